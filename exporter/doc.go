// Package exporter is what the sinks of jobs have in common: a Bucket, the
// place a batch or key exporter writes objects to, and the errors a sink
// reports. Each sink is a package below it (local, s3); none of them knows
// about streams, jobs or the application above (docs/jobs.md).
package exporter
