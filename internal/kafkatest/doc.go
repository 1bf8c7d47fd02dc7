// Package kafkatest runs an in-memory Kafka cluster (franz-go's kfake) on a
// fixed loopback port for tests, stops and restarts it on that port, and
// reads topics back with Debian's kcat, a client independent of the one
// strmlocal produces with (librdkafka rather than franz-go). `make
// test-deps` installs kcat.
package kafkatest
