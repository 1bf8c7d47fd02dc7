// Package kafka is the sink of the "kafka" data connector: a Kafka cluster
// (Apache Kafka, Redpanda, any broker speaking the Kafka protocol), reached
// with franz-go. A Cluster is a config that has not connected yet; Test asks
// the cluster for its metadata, and Publisher opens a producer of one topic,
// creating the topic (one partition) when it is missing.
//
// The producer is franz-go's idempotent producer with acks from all in-sync
// replicas: Publish returns once the brokers acknowledged every message, and
// a message the client sends again after a lost answer is written once.
// Every failure is an *exporter.Error naming the brokers (and the topic),
// with Kafka's error code when a broker answered (TOPIC_AUTHORIZATION_FAILED,
// SASL_AUTHENTICATION_FAILED, ...): ErrUnavailable when the cluster cannot be
// reached or asks to be tried again, ErrRefused when it refused, and
// ErrPermanent when no retry can help (a message larger than the broker
// accepts).
package kafka
