package controller

// The metrics endpoint (--metrics-secure, on by default) asks the API server who a scraper is and whether it
// may GET /metrics; these are the permissions for those two questions, nothing more. They are cluster-scoped
// kinds, so guest mode, which has no ClusterRole, serves metrics with --metrics-secure=false.
//
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create
