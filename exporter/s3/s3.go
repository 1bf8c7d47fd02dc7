package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"path"
	"regexp"
	"strings"
	"syscall"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/strmlocal/strmlocal/exporter"
)

// Config is the config of an s3 connector.
type Config struct {
	// Endpoint is the server's URL, scheme and host only:
	// https://s3.eu-west-1.amazonaws.com, http://127.0.0.1:7070.
	Endpoint string `json:"endpoint"`
	// Bucket is the bucket objects are written to; it must exist.
	Bucket string `json:"bucket"`
	// Region is the bucket's region, "us-east-1" when empty.
	Region string `json:"region,omitempty"`
	// PathStyle addresses the bucket as http://host/bucket/object. When
	// false minio-go decides: virtual-host style (http://bucket.host/object)
	// for Amazon, Google and Aliyun endpoints, path style for every other
	// endpoint (MinIO, Versity, an IP address, localhost).
	PathStyle bool `json:"pathStyle,omitempty"`
	// AccessKeyID and SecretAccessKey are the credentials requests are
	// signed with (AWS Signature V4). The secret is in no message.
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
}

// Schema is the JSON Schema of Config. Validate checks the rest.
const Schema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "s3 data connector",
  "type": "object",
  "additionalProperties": false,
  "required": ["endpoint", "bucket", "accessKeyId", "secretAccessKey"],
  "properties": {
    "endpoint": {
      "type": "string",
      "pattern": "^https?://[^/?#@\\s]+/?$",
      "description": "The S3 server's URL, scheme and host only, e.g. https://s3.eu-west-1.amazonaws.com or http://127.0.0.1:7070."
    },
    "bucket": {
      "type": "string",
      "pattern": "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
      "description": "The bucket objects are written to; it must exist. 3 to 63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit."
    },
    "region": {
      "type": "string",
      "description": "The bucket's region; us-east-1 when omitted."
    },
    "pathStyle": {
      "type": "boolean",
      "description": "Address the bucket as https://host/bucket/ rather than https://bucket.host/; endpoints other than Amazon's, Google's and Aliyun's get path style anyway."
    },
    "accessKeyId": {
      "type": "string",
      "minLength": 1,
      "description": "The access key ID requests are signed with."
    },
    "secretAccessKey": {
      "type": "string",
      "minLength": 1,
      "description": "The secret access key requests are signed with; a secret, never shown."
    }
  }
}`

// Secrets are the secret fields of Config, by their JSON names.
var Secrets = []string{"secretAccessKey"}

// bucketName is S3's rule for bucket names (Validate adds its exceptions).
var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// ipAddress is a bucket name S3 refuses because it looks like an address.
var ipAddress = regexp.MustCompile(`^\d+\.\d+\.\d+\.\d+$`)

// Validate checks what the schema cannot. Its messages name the field
// and never show the secret (nor an endpoint with user info in it).
func (c Config) Validate() error {
	if _, err := endpoint(c.Endpoint); err != nil {
		return err
	}
	switch {
	case !bucketName.MatchString(c.Bucket):
		return fmt.Errorf("bucket: want 3 to 63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit, got %q", c.Bucket)
	case strings.Contains(c.Bucket, "..") || strings.Contains(c.Bucket, ".-") || strings.Contains(c.Bucket, "-."):
		return fmt.Errorf(`bucket: want no "..", ".-" or "-.", got %q`, c.Bucket)
	case ipAddress.MatchString(c.Bucket):
		return fmt.Errorf("bucket: want a name, not an IP address, got %q", c.Bucket)
	}
	if strings.TrimSpace(c.Region) != c.Region || strings.ContainsAny(c.Region, " /") {
		return fmt.Errorf("region: want a region name such as us-east-1, got %q", c.Region)
	}
	if c.AccessKeyID == "" {
		return errors.New("accessKeyId: want an access key ID, got none")
	}
	if c.SecretAccessKey == "" {
		return errors.New("secretAccessKey: want a secret access key, got none")
	}
	return nil
}

// endpoint parses s, the endpoint of a Config.
func endpoint(s string) (*url.URL, error) {
	// User info would be a password in the URL: refuse it without
	// repeating it.
	if strings.Contains(s, "@") {
		return nil, errors.New("endpoint: want no user info (user:password@) in the URL: the keys go in accessKeyId and secretAccessKey")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Opaque != "" || u.Hostname() == "" {
		return nil, fmt.Errorf("endpoint: want an http:// or https:// URL with a host, got %q", s)
	}
	if u.Path != "" && u.Path != "/" {
		return nil, fmt.Errorf(`endpoint: want no path other than "/", got %q`, s)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return nil, fmt.Errorf("endpoint: want no query or fragment, got %q", s)
	}
	return u, nil
}

const (
	// partSize is the size of the parts Put uploads, and so the memory
	// one Put holds: minio-go reads body into one buffer of this size and
	// uploads it as a part, again and again. 8 MiB × S3's 10,000 parts
	// caps an object at 78 GiB.
	partSize = 8 << 20
	// maxRetries is how many times minio-go tries a request that failed
	// on the network or with a 5xx (its default is 10, with backoff up to
	// a second each): a few tries for a blip, then ErrUnavailable, and the
	// job's own retry takes over.
	maxRetries = 3
	// defaultRegion is the region of a Config without one. With a region
	// set minio-go asks no GetBucketLocation before the first request.
	defaultRegion = "us-east-1"
)

// Bucket is an S3 bucket. It is safe for concurrent use.
type Bucket struct {
	client   *minio.Client
	bucket   string
	endpoint string // scheme://host, for messages
}

// New returns the bucket of c; it touches nothing (see exporter.Probe).
func New(c Config) (*Bucket, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	u, _ := endpoint(c.Endpoint)
	region := c.Region
	if region == "" {
		region = defaultRegion
	}
	lookup := minio.BucketLookupAuto
	if c.PathStyle {
		lookup = minio.BucketLookupPath
	}
	client, err := minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(c.AccessKeyID, c.SecretAccessKey, ""),
		Secure:       u.Scheme == "https",
		Region:       region,
		BucketLookup: lookup,
		MaxRetries:   maxRetries,
	})
	if err != nil {
		// minio-go's own check of the endpoint: no secret in it.
		return nil, fmt.Errorf("endpoint: %w", err)
	}
	return &Bucket{client: client, bucket: c.Bucket, endpoint: u.Scheme + "://" + u.Host}, nil
}

func (b *Bucket) String() string { return fmt.Sprintf("bucket %q at %s", b.bucket, b.endpoint) }

// Put uploads body as the object name, as a multipart upload of partSize
// parts whatever its size (minio-go does so for an unknown size: three
// requests for a small object, initiate, one part, complete). S3 shows the
// object only once the upload completes; a failed upload is aborted. A
// crash mid-upload leaves an incomplete upload that readers never see,
// but that holds storage until the bucket's lifecycle rules abort it.
func (b *Bucket) Put(ctx context.Context, name string, body io.Reader) (int64, error) {
	r := &reader{r: body}
	info, err := b.client.PutObject(ctx, b.bucket, name, r, -1, minio.PutObjectOptions{
		ContentType: contentType(name),
		PartSize:    partSize,
	})
	switch {
	case err == nil:
		return info.Size, nil
	case ctx.Err() != nil:
		return 0, ctx.Err()
	case r.err != nil:
		// body failed, not the bucket.
		return 0, fmt.Errorf("%s: put %s: reading the object: %w", b, name, r.err)
	}
	return 0, b.fail("put", name, err)
}

// Delete removes name; a missing object is no error (S3 says so too).
func (b *Bucket) Delete(ctx context.Context, name string) error {
	err := b.client.RemoveObject(ctx, b.bucket, name, minio.RemoveObjectOptions{})
	switch {
	case err == nil, minio.ToErrorResponse(err).Code == minio.NoSuchKey:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return b.fail("delete", name, err)
}

// contentType is the Content-Type of the object name, by its extension.
func contentType(name string) string {
	switch strings.ToLower(path.Ext(name)) {
	case ".jsonl":
		return "application/x-ndjson"
	case ".csv":
		return "text/csv"
	}
	return "application/octet-stream"
}

// fail turns an error of minio-go into an *exporter.Error:
//   - an S3 error response (and minio-go's own checks, which it reports
//     the same way) is a refusal with its code: NoSuchBucket,
//     SignatureDoesNotMatch, InvalidAccessKeyId, AccessDenied;
//   - an error of the network (refused, reset, a timeout, DNS, a
//     connection closed mid-answer) is ErrUnavailable;
//   - anything else (minio-go's checks of names that return a plain
//     error) is a refusal too: trying again would not help.
//
// The message is the server's; the request, signature and keys are in
// none of these errors.
func (b *Bucket) fail(op, name string, err error) error {
	e := &exporter.Error{Where: b.String(), Op: op, Name: name, Kind: exporter.ErrRefused, Err: err}
	var resp minio.ErrorResponse
	var ue *url.Error
	var ne net.Error
	switch {
	case errors.As(err, &resp) && (resp.Code != "" || resp.StatusCode != 0):
		e.Code = resp.Code
		msg := resp.Error() // the Message, or minio-go's text for the code
		if resp.StatusCode != 0 {
			msg = fmt.Sprintf("%s (HTTP %d)", strings.TrimSuffix(msg, "."), resp.StatusCode)
		}
		e.Err = errors.New(msg)
	case errors.As(err, &ue):
		// Drop `Put "http://host/bucket/name?uploads="`: Where and Name
		// say it.
		e.Kind, e.Err = exporter.ErrUnavailable, ue.Err
	case errors.As(err, &ne), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		e.Kind = exporter.ErrUnavailable
	}
	return e
}

// reader is body as Put reads it: it keeps body's error, to tell a
// failing body from a failing bucket.
type reader struct {
	r   io.Reader
	err error
}

func (r *reader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}
