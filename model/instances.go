package model

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// InstanceCount is the number of instances a spec asks for: ceil(numPartitions / numPartitionsPerInstance),
// with numPartitionsPerInstance defaulting to 1. Invalid values give 0 or are read as 1, never a panic.
func InstanceCount(numPartitions int32, perInstance *int32) int {
	if numPartitions <= 0 {
		return 0
	}
	k := int32(1)
	if perInstance != nil && *perInstance > 1 {
		k = *perInstance
	}
	return int((numPartitions + k - 1) / k)
}

// InstanceName is the name of instance i: {prefix}-{i}.
func InstanceName(prefix string, i int) string {
	return prefix + "-" + strconv.Itoa(i)
}

// OwnerLabelValue is the value of the consumer label for an owner name: the name itself when it is a valid label
// value, else a prefix of it with a hash suffix, so that distinct long names stay distinct.
func OwnerLabelValue(name string) string {
	const maxLabelValue = 63
	if len(name) <= maxLabelValue {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	suffix := hex.EncodeToString(sum[:5])
	prefix := name[:maxLabelValue-len(suffix)-1]
	// A label value must end with an alphanumeric character.
	for len(prefix) > 0 && !isAlphanumeric(prefix[len(prefix)-1]) {
		prefix = prefix[:len(prefix)-1]
	}
	return prefix + "-" + suffix
}

func isAlphanumeric(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
