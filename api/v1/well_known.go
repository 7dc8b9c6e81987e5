package v1

// Annotations and labels the operator reads or writes. The annotation names are those of the original
// Konsumerator, so objects and habits carry over.
const (
	// AnnotationDisableAutoscaler on a Consumer (or guest-mode ConfigMap) freezes the resources of all its
	// instances; on one instance Deployment it freezes that instance. Any value counts, even empty.
	AnnotationDisableAutoscaler = "konsumerator.lwolf.org/disable-autoscaler"
	// AnnotationManaged marks a ConfigMap holding a Consumer spec in guest mode.
	AnnotationManaged = "konsumerator.lwolf.org/managed"
	// AnnotationPartition lists the partitions of an instance, comma separated.
	AnnotationPartition = "konsumerator.lwolf.org/partition"
	// AnnotationSpecHash is the canonical hash of everything the operator sets on an instance; a Deployment whose
	// hash differs from the planned one is OUTDATED.
	AnnotationSpecHash = "konsumerator.lwolf.org/spec-hash"
	// AnnotationScalingStatus is the hysteresis state of an instance (RUNNING, PENDING_SCALE_UP,
	// PENDING_SCALE_DOWN), and AnnotationScalingStatusChange is when it last changed (RFC 3339). Keeping them on
	// the Deployment makes the state survive restarts and leader changes.
	AnnotationScalingStatus       = "konsumerator.lwolf.org/scaling-status"
	AnnotationScalingStatusChange = "konsumerator.lwolf.org/scaling-status-change"
	// AnnotationResources records, in updateMode InPlace, the resources decided for every container of the
	// instance (JSON: container name to requests and limits). Running pods are resized to them; the pod template
	// keeps the size pods start with until a rollout that happens anyway carries these into it.
	AnnotationResources = "konsumerator.lwolf.org/resources"
	// AnnotationMemoryFloor records, per container, the memory an out-of-memory kill bumped it to and when the
	// kill happened (JSON): later decisions do not go below it, and the same kill is not counted twice.
	AnnotationMemoryFloor = "konsumerator.lwolf.org/memory-floor"
	// AnnotationScaleDownMarginSince is, while a scale-down by restart is pending, when its step first gave back
	// enough CPU to be worth a restart (RFC 3339), or ScaleDownMarginNotYet while it does not; absent when that
	// was so from the start of the wait. A step of more than half the CPU goes only once it has been worth a
	// restart for the whole pendingScaleDownDuration, so that a short dip never costs a restart.
	AnnotationScaleDownMarginSince = "konsumerator.lwolf.org/scale-down-margin-since"
	ScaleDownMarginNotYet          = "not yet"

	// LabelConsumer is set on every instance Deployment and its pods. Its value is the owner's name (hashed when
	// longer than a label value may be); the operator's cache holds only Deployments with this label.
	LabelConsumer = "konsumerator.lwolf.org/consumer"
	// LabelInstance selects the pods of one instance: its value is the instance name {spec.name}-{index}.
	LabelInstance = "konsumerator.lwolf.org/instance"
)

// Environment variables injected into every container of an instance.
const (
	DefaultPartitionEnvKey = "KONSUMERATOR_PARTITION"
	EnvNumPartitions       = "KONSUMERATOR_NUM_PARTITIONS"
	EnvInstance            = "KONSUMERATOR_INSTANCE"
	EnvNumInstances        = "KONSUMERATOR_NUM_INSTANCES"
	EnvGOMAXPROCS          = "GOMAXPROCS"
	EnvGOMEMLIMIT          = "GOMEMLIMIT"
)

// AnnotationYieldedFields lists, comma separated, the fields of an instance that another field manager owns and
// that the operator leaves to it (conflict policy "respect"). The planner does not count them as drift.
const AnnotationYieldedFields = "konsumerator.lwolf.org/yielded-fields"
