// Package kafka is the Kafka source of the metrics cache: it reads a Consumer's lag straight from the brokers,
// with franz-go's kgo and kadm.
//
// Per partition of the topic, the backlog is the log end offset minus the offset the consumer group committed;
// the production and consumption rates are how fast the end offset and the committed offset moved between
// reads, over a window of a few past reads kept per Consumer (like Prometheus' rate()). The first read has
// backlogs but no rates: that is no data, not zero load. A partition the group never committed to has a
// production rate but no backlog (it is not assumed to start at the end, nor at the beginning).
//
// Whoever writes a Consumer names the brokers, and is not trusted with the operator: every read is bounded in
// time, every answer in size, the partitions read by numPartitions, the connections of one client in number,
// the reads of all Consumers in concurrency, and every broker address (the bootstrap ones and those the
// cluster's metadata names) goes through the operator's address policy.
package kafka
