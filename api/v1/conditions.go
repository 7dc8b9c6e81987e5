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
)
