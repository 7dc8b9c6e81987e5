package model

import (
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
)

// Guest-mode status annotations on the ConfigMap: the counts of the Consumer status and a one-condition summary.
// Their number and size are fixed, whatever the number of partitions (the original stored per-partition state
// there and overflowed past about 3,000 partitions).
const (
	StatusAnnotationPrefix = "status.konsumerator.lwolf.org/"
	AnnotationExpected     = StatusAnnotationPrefix + "expected"
	AnnotationRunning      = StatusAnnotationPrefix + "running"
	AnnotationPaused       = StatusAnnotationPrefix + "paused"
	AnnotationMissing      = StatusAnnotationPrefix + "missing"
	AnnotationLagging      = StatusAnnotationPrefix + "lagging"
	AnnotationOutdated     = StatusAnnotationPrefix + "outdated"
	AnnotationReady        = StatusAnnotationPrefix + "ready"
	AnnotationReason       = StatusAnnotationPrefix + "reason"
	AnnotationMessage      = StatusAnnotationPrefix + "message"
	AnnotationLastSync     = StatusAnnotationPrefix + "last-sync-time"

	// maxMessage keeps the annotations far below the 256 KiB limit of all annotations together.
	maxMessage = 1024
)

var countAnnotations = []string{AnnotationExpected, AnnotationRunning, AnnotationPaused, AnnotationMissing, AnnotationLagging, AnnotationOutdated}

func counts(st *konsumeratorv1.ConsumerStatus) []**int32 {
	return []**int32{&st.Expected, &st.Running, &st.Paused, &st.Missing, &st.Lagging, &st.Outdated}
}

// StatusAnnotations renders a status as ConfigMap annotations.
func StatusAnnotations(st konsumeratorv1.ConsumerStatus) map[string]string {
	out := map[string]string{}
	for i, p := range counts(&st) {
		if *p != nil {
			out[countAnnotations[i]] = strconv.Itoa(int(**p))
		}
	}
	for _, c := range st.Conditions {
		if c.Type != konsumeratorv1.ConditionReady {
			continue
		}
		out[AnnotationReady] = string(c.Status)
		out[AnnotationReason] = c.Reason
		msg := c.Message
		if len(msg) > maxMessage {
			msg = msg[:maxMessage-3] + "..."
		}
		out[AnnotationMessage] = msg
	}
	if st.LastSyncTime != nil {
		out[AnnotationLastSync] = st.LastSyncTime.UTC().Format("2006-01-02T15:04:05Z")
	}
	return out
}

// StatusFromAnnotations reads back what StatusAnnotations wrote, as far as annotations keep it.
func StatusFromAnnotations(annotations map[string]string) konsumeratorv1.ConsumerStatus {
	var st konsumeratorv1.ConsumerStatus
	for i, p := range counts(&st) {
		if v, err := strconv.Atoi(annotations[countAnnotations[i]]); err == nil {
			n := int32(v)
			*p = &n
		}
	}
	if t, err := time.Parse(time.RFC3339, annotations[AnnotationLastSync]); err == nil {
		st.LastSyncTime = &metav1.Time{Time: t}
	}
	if ready, ok := annotations[AnnotationReady]; ok {
		st.Conditions = []metav1.Condition{{
			Type: konsumeratorv1.ConditionReady, Status: metav1.ConditionStatus(ready),
			Reason: annotations[AnnotationReason], Message: annotations[AnnotationMessage],
		}}
	}
	return st
}
