package v1

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AutoscalerType names the source of the load figures used to size instances.
// +kubebuilder:validation:Enum=prometheus;kafka
type AutoscalerType string

// ContainerScalingMode controls whether the autoscaler sets a container's resources.
// +kubebuilder:validation:Enum=Auto;Off
type ContainerScalingMode string

// FallbackStrategy says which bound of the container policy a new instance gets while there are no metrics for it.
// +kubebuilder:validation:Enum=min;max
type FallbackStrategy string

const (
	AutoscalerTypePrometheus AutoscalerType = "prometheus"
	AutoscalerTypeKafka      AutoscalerType = "kafka"

	// ContainerScalingModeAuto lets the autoscaler set the container's resources (the default).
	ContainerScalingModeAuto ContainerScalingMode = "Auto"
	// ContainerScalingModeOff leaves the container's resources as the template has them.
	ContainerScalingModeOff ContainerScalingMode = "Off"

	FallbackStrategyMin FallbackStrategy = "min"
	FallbackStrategyMax FallbackStrategy = "max"
)

// AutoscalerTypes are the modes this version knows, each with its block in AutoscalerSpec.
var AutoscalerTypes = []AutoscalerType{AutoscalerTypePrometheus, AutoscalerTypeKafka}

// ConsumerSpec is the desired state of a Kafka consumer group run as one Deployment per group of partitions.
type ConsumerSpec struct {
	// NumPartitions is the number of partitions of the topic; partitions are numbered 0..numPartitions-1.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	NumPartitions int32 `json:"numPartitions"`

	// NumPartitionsPerInstance is how many partitions each instance consumes (default 1). The number of instances is
	// ceil(numPartitions / numPartitionsPerInstance); partitions are spread over them in contiguous, even ranges.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	NumPartitionsPerInstance *int32 `json:"numPartitionsPerInstance,omitempty"`

	// Name is the prefix of the instance Deployments, named {name}-{index}. It must be a DNS label short enough
	// that every instance name stays a valid label value (57 characters at most).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=57
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// Namespace of the instances. It must be empty or the Consumer's own namespace: an owner reference cannot cross
	// namespaces, so any other value is reported as a condition and nothing is changed.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Namespace string `json:"namespace,omitempty"`

	// Autoscaler sizes instances from the lag of their partitions. Without it instances keep the resources of the
	// template (or the policy minimum).
	// +optional
	Autoscaler *AutoscalerSpec `json:"autoscaler,omitempty"`

	// PartitionEnvKey is the environment variable that lists the instance's partitions, comma separated
	// (default KONSUMERATOR_PARTITION).
	// +optional
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z][-._a-zA-Z0-9]*$`
	// +kubebuilder:validation:XValidation:rule="!(self in ['KONSUMERATOR_NUM_PARTITIONS', 'KONSUMERATOR_INSTANCE', 'KONSUMERATOR_NUM_INSTANCES', 'GOMAXPROCS', 'GOMEMLIMIT'])",message="partitionEnvKey must not be one of the variables the operator sets itself"
	PartitionEnvKey string `json:"partitionEnvKey,omitempty"`

	// DeploymentTemplate is the Deployment spec every instance is made from.
	// +kubebuilder:validation:XValidation:rule="!has(self.replicas) || self.replicas >= 0",message="replicas must not be negative",fieldPath=".replicas"
	DeploymentTemplate appsv1.DeploymentSpec `json:"deploymentTemplate"`

	// ResourcePolicy bounds the resources the autoscaler may give, per container and for the whole Consumer.
	// +optional
	ResourcePolicy *ResourcePolicy `json:"resourcePolicy,omitempty"`
}

// ResourcePolicy bounds the autoscaler.
type ResourcePolicy struct {
	// GlobalPolicy is a budget on the sum over all instances.
	// +optional
	GlobalPolicy *GlobalResourcePolicy `json:"globalPolicy,omitempty"`

	// ContainerPolicies bound each container by name.
	// +optional
	// +listType=map
	// +listMapKey=containerName
	// +kubebuilder:validation:MaxItems=32
	ContainerPolicies []ContainerResourcePolicy `json:"containerPolicies,omitempty"`
}

// GlobalResourcePolicy is a budget on the requests of all instances together.
type GlobalResourcePolicy struct {
	// MaxAllowed is the most the instances may request together, current usage included.
	// +optional
	// +kubebuilder:validation:MaxProperties=8
	// +kubebuilder:validation:XValidation:rule="self.all(k, isQuantity(string(self[k])) && quantity(string(self[k])).isGreaterThan(quantity('0')))",message="maxAllowed quantities must be positive"
	MaxAllowed corev1.ResourceList `json:"maxAllowed,omitempty"`
}

// ContainerResourcePolicy controls how the autoscaler sizes one container.
// +kubebuilder:validation:XValidation:rule="!has(self.minAllowed) || !has(self.maxAllowed) || self.minAllowed.all(k, !(k in self.maxAllowed) || !isQuantity(string(self.minAllowed[k])) || !isQuantity(string(self.maxAllowed[k])) || quantity(string(self.minAllowed[k])).compareTo(quantity(string(self.maxAllowed[k]))) <= 0)",message="minAllowed must not exceed maxAllowed for any resource",fieldPath=".minAllowed"
type ContainerResourcePolicy struct {
	// ContainerName is the name of the container in the pod template this policy applies to.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	ContainerName string `json:"containerName"`

	// Mode is Auto (the default: the autoscaler sets the resources) or Off (the template's resources are kept).
	// +optional
	Mode *ContainerScalingMode `json:"mode,omitempty"`

	// MinAllowed is the least the autoscaler gives the container. The default is no minimum.
	// +optional
	// +kubebuilder:validation:MaxProperties=8
	// +kubebuilder:validation:XValidation:rule="self.all(k, isQuantity(string(self[k])) && !quantity(string(self[k])).isLessThan(quantity('0')))",message="minAllowed quantities must not be negative"
	MinAllowed corev1.ResourceList `json:"minAllowed,omitempty"`

	// MaxAllowed is the most the autoscaler gives the container, limits included. The default is no maximum.
	// +optional
	// +kubebuilder:validation:MaxProperties=8
	// +kubebuilder:validation:XValidation:rule="self.all(k, isQuantity(string(self[k])) && quantity(string(self[k])).isGreaterThan(quantity('0')))",message="maxAllowed quantities must be positive"
	MaxAllowed corev1.ResourceList `json:"maxAllowed,omitempty"`
}

// AutoscalerSpec configures how instances are sized.
// +kubebuilder:validation:XValidation:rule="self.mode != 'prometheus' || has(self.prometheus)",message="autoscaler.prometheus is required when mode is prometheus",fieldPath=".prometheus"
// +kubebuilder:validation:XValidation:rule="self.mode != 'kafka' || has(self.kafka)",message="autoscaler.kafka is required when mode is kafka",fieldPath=".kafka"
type AutoscalerSpec struct {
	// Mode is the source of load figures: prometheus (three queries) or kafka (the group's offsets, read from the
	// brokers).
	Mode AutoscalerType `json:"mode"`

	// PendingScaleUpDuration is how long the need for more resources must last before an instance is scaled up.
	// +optional
	// +kubebuilder:default="5m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	PendingScaleUpDuration *metav1.Duration `json:"pendingScaleUpDuration,omitempty"`

	// PendingScaleDownDuration is how long the need for fewer resources must last before an instance is scaled down.
	// +optional
	// +kubebuilder:default="15m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	PendingScaleDownDuration *metav1.Duration `json:"pendingScaleDownDuration,omitempty"`

	// UpdateMode says how decided resources reach running pods. InPlace (the default) resizes running pods through
	// the pods/resize subresource and restarts an instance only where a resize is not safe or not possible (see
	// docs/sizing.md); Restart writes the resources into the pod template, which rolls the instance's pods.
	// +optional
	// +kubebuilder:default=InPlace
	// +kubebuilder:validation:Enum=InPlace;Restart
	UpdateMode ResourceUpdateMode `json:"updateMode,omitempty"`

	// Prometheus configures the Prometheus source; required when mode is prometheus.
	// +optional
	Prometheus *PrometheusAutoscalerSpec `json:"prometheus,omitempty"`

	// Kafka configures the Kafka source; required when mode is kafka.
	// +optional
	Kafka *KafkaAutoscalerSpec `json:"kafka,omitempty"`
}

// ResourceUpdateMode is how decided resources reach running pods.
type ResourceUpdateMode string

const (
	// UpdateInPlace resizes running pods; the pod template catches up at the next rollout that happens anyway.
	UpdateInPlace ResourceUpdateMode = "InPlace"
	// UpdateRestart writes decided resources into the pod template: every resize restarts the instance's pods.
	UpdateRestart ResourceUpdateMode = "Restart"
)

// PrometheusAutoscalerSpec reads the lag of every partition from Prometheus.
// +kubebuilder:validation:XValidation:rule="!(has(self.bearerTokenSecret) && has(self.basicAuth))",message="bearerTokenSecret and basicAuth are mutually exclusive",fieldPath=".basicAuth"
type PrometheusAutoscalerSpec struct {
	// Address lists Prometheus servers (replicas of one another). They are tried so that one that is down or
	// answers empty does not win over one that has data.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:MaxLength=2048
	// +kubebuilder:validation:items:Pattern=`^https?://[^\s]+$`
	Address []string `json:"address"`

	// MinSyncPeriod is the least time between two queries to Prometheus for this Consumer.
	// +optional
	// +kubebuilder:default="1m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	MinSyncPeriod *metav1.Duration `json:"minSyncPeriod,omitempty"`

	// Offset returns the messages behind (lag in messages) per partition.
	Offset PrometheusQuery `json:"offset"`
	// Production returns the production rate (messages per second) per partition.
	Production PrometheusQuery `json:"production"`
	// Consumption returns the consumption rate (messages per second) per partition.
	Consumption PrometheusQuery `json:"consumption"`

	// SizingSettings say how the figures become resources; the same Go type in every source's block.
	SizingSettings `json:",inline"`

	// BearerTokenSecret is a key of a Secret in the Consumer's namespace holding a bearer token for Prometheus.
	// +optional
	BearerTokenSecret *corev1.SecretKeySelector `json:"bearerTokenSecret,omitempty"`

	// BasicAuth reads a username and password for Prometheus from Secrets in the Consumer's namespace.
	// +optional
	BasicAuth *BasicAuth `json:"basicAuth,omitempty"`

	// TLS configures how the Prometheus server's certificate is verified.
	// +optional
	TLS *PrometheusTLS `json:"tls,omitempty"`
}

// SizingSettings are how the load figures of a source become resources. Every source's block embeds them, so
// they mean the same and are validated the same whatever the source (the planner reads them through
// AutoscalerSpec.Sizing).
// +kubebuilder:validation:XValidation:rule="!has(self.tolerableLag) || !has(self.criticalLag) || duration(self.tolerableLag) <= duration(self.criticalLag)",message="tolerableLag must not exceed criticalLag",fieldPath=".tolerableLag"
type SizingSettings struct {
	// FallbackStrategy gives a new instance without metrics the min (default) or max of its container policy.
	// +optional
	FallbackStrategy *FallbackStrategy `json:"fallbackStrategy,omitempty"`

	// RatePerCore is how many messages per second one CPU core processes.
	// +kubebuilder:validation:Minimum=1
	RatePerCore *int64 `json:"ratePerCore"`

	// RamPerCore is the memory given per CPU core of the limit.
	// +kubebuilder:validation:XValidation:rule="isQuantity(string(self)) && quantity(string(self)).isGreaterThan(quantity('0'))",message="ramPerCore must be a positive quantity"
	RamPerCore resource.Quantity `json:"ramPerCore"`

	// CpuIncrement is the step CPU requests are rounded up to (default 100m).
	// +optional
	// +kubebuilder:default="100m"
	// +kubebuilder:validation:XValidation:rule="isQuantity(string(self)) && quantity(string(self)).isGreaterThan(quantity('0'))",message="cpuIncrement must be a positive quantity"
	CpuIncrement *resource.Quantity `json:"cpuIncrement,omitempty"`

	// TolerableLag is the lag (time to catch up at the current rate) from which an instance counts as lagging.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	TolerableLag *metav1.Duration `json:"tolerableLag"`

	// CriticalLag is the lag from which an instance gets its maximum resources at once.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	CriticalLag *metav1.Duration `json:"criticalLag"`

	// RecoveryTime is how fast a backlog should be worked off: the backlog adds backlog/recoveryTime to the rate.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="recoveryTime must be positive"
	RecoveryTime *metav1.Duration `json:"recoveryTime"`
}

// KafkaAutoscalerSpec reads the lag of every partition straight from Kafka: the log end offsets of the topic
// and the offsets the consumer group committed. The backlog is their difference; the production and
// consumption rates are how fast each moved between reads.
type KafkaAutoscalerSpec struct {
	// Brokers are bootstrap brokers of one cluster, as host:port. The operator also connects to the brokers they
	// name in their metadata; the operator's address policy applies to every one.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:MaxLength=261
	// +kubebuilder:validation:items:Pattern=`^(\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9]([-a-zA-Z0-9.]*[a-zA-Z0-9])?):[0-9]{1,5}$`
	Brokers []string `json:"brokers"`

	// Topic is the topic the group consumes; its partitions are the Consumer's partitions.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=249
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9._-]+$`
	Topic string `json:"topic"`

	// ConsumerGroup is the group whose committed offsets are read.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^[^\x00-\x1f\x7f]+$`
	ConsumerGroup string `json:"consumerGroup"`

	// MinSyncPeriod is the least time between two reads of the offsets for this Consumer. Rates are measured
	// between reads, so they come from the second read on.
	// +optional
	// +kubebuilder:default="1m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s')",message="minSyncPeriod must be at least 1s"
	MinSyncPeriod *metav1.Duration `json:"minSyncPeriod,omitempty"`

	// SizingSettings say how the figures become resources; the same Go type as in the prometheus block.
	SizingSettings `json:",inline"`

	// TLS turns TLS on towards the brokers (present, even empty: on) and says how certificates are checked.
	// +optional
	TLS *KafkaTLS `json:"tls,omitempty"`

	// SASL authenticates to the brokers with a username and password from Secrets in the Consumer's namespace.
	// +optional
	SASL *KafkaSASL `json:"sasl,omitempty"`
}

// KafkaTLS configures TLS towards the brokers.
// +kubebuilder:validation:XValidation:rule="has(self.certSecret) == has(self.keySecret)",message="certSecret and keySecret go together",fieldPath=".keySecret"
type KafkaTLS struct {
	// CASecret is a key of a Secret in the Consumer's namespace holding a PEM CA bundle; without it the system's
	// CAs are used.
	// +optional
	CASecret *corev1.SecretKeySelector `json:"caSecret,omitempty"`
	// CertSecret is a key of a Secret in the Consumer's namespace holding a PEM client certificate (mutual TLS).
	// +optional
	CertSecret *corev1.SecretKeySelector `json:"certSecret,omitempty"`
	// KeySecret is a key of a Secret in the Consumer's namespace holding the PEM private key of CertSecret.
	// +optional
	KeySecret *corev1.SecretKeySelector `json:"keySecret,omitempty"`
	// ServerName overrides the name the brokers' certificates are checked against.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	ServerName string `json:"serverName,omitempty"`
	// InsecureSkipVerify turns certificate verification off.
	// +optional
	InsecureSkipVerify bool `json:"insecureSkipVerify,omitempty"`
}

// KafkaSASLMechanism names a SASL mechanism.
// +kubebuilder:validation:Enum=PLAIN;SCRAM-SHA-256;SCRAM-SHA-512
type KafkaSASLMechanism string

const (
	SASLPlain       KafkaSASLMechanism = "PLAIN"
	SASLScramSHA256 KafkaSASLMechanism = "SCRAM-SHA-256"
	SASLScramSHA512 KafkaSASLMechanism = "SCRAM-SHA-512"
)

// KafkaSASL is a SASL mechanism with its credentials.
type KafkaSASL struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512. PLAIN sends the password as it is: use it with tls.
	Mechanism KafkaSASLMechanism `json:"mechanism"`
	// Username is a key of a Secret in the Consumer's namespace.
	Username corev1.SecretKeySelector `json:"username"`
	// Password is a key of a Secret in the Consumer's namespace.
	Password corev1.SecretKeySelector `json:"password"`
}

// PrometheusQuery is an instant query returning one series per partition.
type PrometheusQuery struct {
	// Query is the PromQL expression.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	Query string `json:"query"`
	// PartitionLabel is the label holding the partition number in the query's result.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[a-zA-Z_][a-zA-Z0-9_]*$`
	PartitionLabel string `json:"partitionLabel"`
}

// BasicAuth holds references to a username and a password.
type BasicAuth struct {
	Username corev1.SecretKeySelector `json:"username"`
	Password corev1.SecretKeySelector `json:"password"`
}

// PrometheusTLS configures TLS towards Prometheus.
type PrometheusTLS struct {
	// CASecret is a key of a Secret in the Consumer's namespace holding a PEM CA bundle.
	// +optional
	CASecret *corev1.SecretKeySelector `json:"caSecret,omitempty"`
	// ServerName overrides the name the certificate is checked against.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	ServerName string `json:"serverName,omitempty"`
	// InsecureSkipVerify turns certificate verification off.
	// +optional
	InsecureSkipVerify bool `json:"insecureSkipVerify,omitempty"`
}

// ConsumerStatus is what the operator observed and did in its last pass. It holds counts only, never
// per-partition data, so its size does not grow with the number of partitions.
type ConsumerStatus struct {
	// ObservedGeneration is the metadata.generation of the spec the last pass acted on.
	// +optional
	ObservedGeneration *int64 `json:"observedGeneration,omitempty"`
	// Expected is the number of instances the spec asks for.
	// +optional
	Expected *int32 `json:"expected,omitempty"`
	// Running is the number of instances whose pods are available (availableReplicas ≥ replicas > 0) and not
	// stopped (replicas 0, spec.paused), up to date or not: an instance rolling out still consumes.
	// +optional
	Running *int32 `json:"running,omitempty"`
	// Paused is the number of instances with zero replicas, a paused rollout, or resources frozen by a
	// disable-autoscaler annotation (on the owner or on the instance).
	// +optional
	Paused *int32 `json:"paused,omitempty"`
	// Missing is the number of instances that do not exist.
	// +optional
	Missing *int32 `json:"missing,omitempty"`
	// Lagging is the number of instances whose worst partition lags by tolerableLag or more. While no usable
	// metrics sample is at hand the last known count is kept (see lastSyncTime and MetricsAvailable).
	// +optional
	Lagging *int32 `json:"lagging,omitempty"`
	// Outdated is the number of instances not yet on the current template: waiting for the rollout budget,
	// restarting, or rolling out. The RolloutComplete condition says how far the rollout has got.
	// +optional
	Outdated *int32 `json:"outdated,omitempty"`
	// Failing is the number of instances whose pods fail: crash-looping, killed for running out of memory,
	// unable to pull their image or to start, unschedulable for longer than the bound, or past the Deployment's
	// progress deadline.
	// +optional
	Failing *int32 `json:"failing,omitempty"`
	// LastSyncTime is when the metrics sample behind the figures of this status was read. It moves only when the
	// status changes anyway, so a pass whose only news is a newer sample writes nothing; while metrics are
	// unusable it stays, and its age is the age of LAGGING.
	// +optional
	LastSyncTime *metav1.Time `json:"lastSyncTime,omitempty"`
	// Conditions: Ready, MetricsAvailable, and others; see the documentation.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
// +kubebuilder:printcolumn:name="Expected",type="integer",JSONPath=".status.expected",description="Instances the spec asks for"
// +kubebuilder:printcolumn:name="Running",type="integer",JSONPath=".status.running",description="Instances whose pods are available, up to date or not"
// +kubebuilder:printcolumn:name="Paused",type="integer",JSONPath=".status.paused",description="Instances stopped (replicas 0, paused) or frozen by disable-autoscaler"
// +kubebuilder:printcolumn:name="Missing",type="integer",JSONPath=".status.missing"
// +kubebuilder:printcolumn:name="Lagging",type="integer",JSONPath=".status.lagging"
// +kubebuilder:printcolumn:name="Outdated",type="integer",JSONPath=".status.outdated",description="Instances not yet on the current template"
// +kubebuilder:printcolumn:name="Failing",type="integer",JSONPath=".status.failing",description="Instances whose pods crash-loop, run out of memory, cannot pull, start or be scheduled"
// +kubebuilder:printcolumn:name="Rollout",type="string",JSONPath=".status.conditions[?(@.type==\"RolloutHealthy\")].reason",description="RolloutHalted while a rollout is stopped for failed instances"
// +kubebuilder:printcolumn:name="Autoscaler",type="string",JSONPath=".spec.autoscaler.mode",description="Autoscaler in use"
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"

// Consumer runs a Kafka consumer group as one Deployment per group of partitions.
type Consumer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ConsumerSpec   `json:"spec,omitempty"`
	Status ConsumerStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ConsumerList is a list of Consumers.
type ConsumerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Consumer `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Consumer{}, &ConsumerList{})
}
