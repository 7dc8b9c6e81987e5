package v1

// Condition types on the Consumer status, and the reasons each may carry. Reasons are stable words (CamelCase,
// no numbers) so that a condition does not change, and the status is not rewritten, unless something did.
const (
	// ConditionReady is True when the last pass carried out its plan without error.
	ConditionReady = "Ready"
	// ConditionMetricsAvailable is True when a fresh metrics sample covers every partition.
	ConditionMetricsAvailable = "MetricsAvailable"
	// ConditionConflicts is True when another field manager owns fields the operator sets.
	ConditionConflicts = "FieldConflicts"
	// ConditionResourceBudget reports how the global budget was applied; present only with a globalPolicy.
	ConditionResourceBudget = "ResourceBudget"
	// ConditionRolloutComplete is True when every expected instance runs the current template; False says how
	// many do, how many are restarting and how many wait for the rollout budget.
	ConditionRolloutComplete = "RolloutComplete"
	// ConditionAutoscalerFrozen is present (True) only while the owner's disable-autoscaler annotation freezes
	// the resources of every instance.
	ConditionAutoscalerFrozen = "AutoscalerFrozen"
	// ConditionSpecWarnings is present (True) only while the spec has parts that are accepted, as the original
	// Konsumerator accepted them, but have no effect.
	ConditionSpecWarnings = "SpecWarnings"
	// ConditionRolloutHealthy is False while a rollout is halted: instances rolled to the current template
	// failed (crash loop, out of memory, image, config, unschedulable, progress deadline) as often as the
	// threshold allows, and no further instance is restarted for that template.
	ConditionRolloutHealthy = "RolloutHealthy"
)

// Reasons of ConditionRolloutHealthy.
const (
	ReasonNoFailedInstances = "NoFailedInstances"
	// ReasonInstancesFailing: some instances on the current template fail, fewer than the threshold.
	ReasonInstancesFailing = "InstancesFailing"
	ReasonRolloutHalted    = "RolloutHalted"
)

// Reasons of ConditionSpecWarnings.
const (
	ReasonPolicyUnknownContainer = "PolicyUnknownContainer"
)

// Reasons of ConditionRolloutComplete.
const (
	ReasonAllInstancesCurrent = "AllInstancesCurrent"
	ReasonRollingOut          = "RollingOut"
	ReasonWaitingForBudget    = "WaitingForRolloutBudget"
	ReasonInstancesNotCurrent = "InstancesNotCurrent"
)

// Reasons of ConditionAutoscalerFrozen.
const (
	ReasonDisabledByAnnotation = "DisabledByAnnotation"
)

// Reasons of ConditionReady.
const (
	ReasonPlanned           = "Planned"
	ReasonInvalidSpec       = "InvalidSpec"
	ReasonNamespaceMismatch = "NamespaceMismatch"
	ReasonInstanceBlocked   = "InstanceBlocked"
	ReasonPlannerError      = "PlannerError"
	ReasonApplyFailed       = "ApplyFailed"
)

// Reasons of ConditionMetricsAvailable.
const (
	ReasonMetricsFresh       = "MetricsFresh"
	ReasonNoMetrics          = "NoMetrics"
	ReasonMetricsStale       = "MetricsStale"
	ReasonMetricsFetchFailed = "MetricsFetchFailed"
	ReasonPartialMetrics     = "PartialMetrics"
)

// Reasons of ConditionConflicts.
const (
	ReasonConflictsForced    = "ConflictsForced"
	ReasonConflictsRespected = "ConflictsRespected"
	ReasonNoConflicts        = "NoConflicts"
)

// Reasons of ConditionResourceBudget.
const (
	ReasonWithinBudget         = "WithinBudget"
	ReasonBudgetShared         = "BudgetShared"
	ReasonMinimumsExceedBudget = "MinimumsExceedBudget"
)

// Reasons of the Events the operator emits on an owner.
const (
	EventInstancesCreated = "InstancesCreated"
	EventInstancesUpdated = "InstancesUpdated"
	EventInstancesDeleted = "InstancesDeleted"
	EventApplyFailed      = ReasonApplyFailed
	EventFieldConflict    = "FieldConflict"
	EventInvalidSpec      = ReasonInvalidSpec
	// EventInstancesResized: resources of instances changed, with the numbers and the reason.
	EventInstancesResized = "InstancesResized"
	// EventScalingPending: a scaling need was noticed and waits its pending duration; nothing restarts.
	EventScalingPending = "ScalingPending"
	// Warnings derived from a change of the status: emitted when a condition's reason or message changes, not
	// on every pass, and without memory in the operator, so that a restart does not repeat them.
	EventMetricsFetchFailed     = ReasonMetricsFetchFailed
	EventNamespaceMismatch      = ReasonNamespaceMismatch
	EventInstanceBlocked        = ReasonInstanceBlocked
	EventPolicyUnknownContainer = ReasonPolicyUnknownContainer
	// EventInstancesResizedInPlace: running pods got new resources through pods/resize; nothing restarted.
	EventInstancesResizedInPlace = "InstancesResizedInPlace"
	// EventResizeFallback: a resize could not be done in place, so the instance restarts; the message says why.
	EventResizeFallback = "ResizeFallbackToRestart"
	// EventRolloutHalted: a Warning when the rollout halts (RolloutHealthy turns False).
	EventRolloutHalted = ReasonRolloutHalted
	// EventMemoryBumped: a container killed for running out of memory gets more at once.
	EventMemoryBumped = "MemoryBumped"
	// EventStuckPodDeleted: a pod stuck on a node that is gone was deleted so its ReplicaSet replaces it.
	EventStuckPodDeleted = "StuckPodDeleted"
)

// Why an instance's pods restart: the reason of an Action, the reason label of
// konsumerator_instance_restarts_total, and the word in Events and plan lines.
const (
	// RestartTemplateChanged: the pod template changed for something other than resources (image, env, a
	// repartition); the decided resources ride along.
	RestartTemplateChanged = "TemplateChanged"
	// RestartResources: updateMode Restart, resources are written into the template.
	RestartResources = "Resources"
	// RestartQoSChange: the resize would change the pod's QoS class, which the API server refuses.
	RestartQoSChange = "ResizeChangesQoS"
	// RestartResizeInfeasible: the kubelet reported the resize Infeasible (the node can never fit it).
	RestartResizeInfeasible = "ResizeInfeasible"
	// RestartResizeDeferred: the kubelet deferred the resize for longer than the bound.
	RestartResizeDeferred = "ResizeDeferredTooLong"
	// RestartResizeInProgress: the resize has been in progress for longer than the bound.
	RestartResizeInProgress = "ResizeInProgressTooLong"
	// RestartResizeError: the kubelet reported an error carrying out the resize.
	RestartResizeError = "ResizeError"
	// RestartResizeRemovesResource: the decision drops a request or limit the pod has, which pods/resize refuses.
	RestartResizeRemovesResource = "ResizeRemovesResource"
	// RestartResizeUnsupported: the pod runs where in-place resize is not supported (its containers report no
	// resources), so the API server would refuse the resize.
	RestartResizeUnsupported = "ResizeUnsupported"
	// RestartContainerPolicy: resized in place, but a container's resizePolicy restarts it for this resource.
	RestartContainerPolicy = "ResizePolicyRestartContainer"
)

// Outcomes of a pods/resize call: the outcome label of konsumerator_inplace_resizes_total.
const (
	ResizeApplied = "applied"
	ResizeFailed  = "failed"
	// ResizeGone: the pod was gone or replaced before the call; nothing to resize.
	ResizeGone = "gone"
)
