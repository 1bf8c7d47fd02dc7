// Package exporter is what the sinks of jobs have in common: a Bucket, the
// place a batch or key exporter writes objects to; a Publisher, the sink
// of jobs that follow a stream (a Kafka topic, a webhook); and the errors a
// sink reports. Each sink is a package below it (local, s3); none of them knows
// about streams, jobs or the application above (docs/jobs.md).
package exporter
