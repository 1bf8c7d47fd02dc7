// Package s3 is the sink of the "s3" data connector: a bucket of an
// S3-compatible object store (Amazon S3, MinIO, Versity, Ceph, ...),
// reached with minio-go. Put streams an object of unknown size as a
// multipart upload of 8 MiB parts, so it takes one part's memory whatever
// the size, and the object appears whole when the upload completes (or not
// at all: a failed upload is aborted). Every failure is an *exporter.Error
// naming the bucket and endpoint, with S3's error code when the server
// answered (NoSuchBucket, SignatureDoesNotMatch, ...).
package s3
