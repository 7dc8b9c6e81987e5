package v1

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Instance naming is shared by everything that looks for instances (observer, planner, tools): one definition
// keeps them in step.

// InstanceName is the Deployment name of instance i: {spec.name}-{i}.
func InstanceName(prefix string, i int32) string { return prefix + "-" + strconv.Itoa(int(i)) }

// NumInstances is ceil(numPartitions / max(1, perInstance)), as the original computed it.
func NumInstances(numPartitions, perInstance int32) int32 {
	if numPartitions <= 0 {
		return 0
	}
	k := max(perInstance, 1)
	return int32((int64(numPartitions) + int64(k) - 1) / int64(k))
}

// LabelValue is name when it is a valid label value, else a shortened form that stays unique: a readable prefix
// and a hash of the whole name. It is the value of LabelConsumer for an owner of that name.
func LabelValue(name string) string {
	if len(validation.IsValidLabelValue(name)) == 0 {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	prefix := make([]byte, 0, 52)
	for i := 0; i < len(name) && len(prefix) < 52; i++ {
		c := name[i]
		if alnum(c) || c == '-' || c == '.' || c == '_' {
			prefix = append(prefix, c)
		}
	}
	for len(prefix) > 0 && !alnum(prefix[0]) {
		prefix = prefix[1:]
	}
	for len(prefix) > 0 && !alnum(prefix[len(prefix)-1]) {
		prefix = prefix[:len(prefix)-1]
	}
	h := hex.EncodeToString(sum[:5])
	if len(prefix) == 0 {
		return h
	}
	return string(prefix) + "-" + h
}

func alnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }
