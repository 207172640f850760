package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// S3 stores files in a bucket of any S3-compatible store (AWS, MinIO, R2, Ceph…).
type S3 struct {
	client   *s3.Client
	presign  *s3.PresignClient
	bucket   string
	endpoint string
}

// S3Options locate a bucket.
type S3Options struct {
	Bucket    string
	Region    string // default us-east-1
	Endpoint  string // e.g. http://127.0.0.1:9000; empty: AWS
	PathStyle bool   // bucket in the path (most non-AWS stores), not the host name
	Credentials
}

func newS3FromURL(u *url.URL, creds Credentials) (*S3, error) {
	q := u.Query()
	o := S3Options{Bucket: u.Host, Region: q.Get("region"), Endpoint: q.Get("endpoint"), Credentials: creds}
	if v := q.Get("path_style"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("STORAGE_URL: path_style: want true or false, got %q", v)
		}
		o.PathStyle = b
	}
	if o.Bucket == "" {
		return nil, errors.New("STORAGE_URL: name the bucket, as in s3://bucket?region=…")
	}
	return NewS3(o)
}

// NewS3 opens the bucket o names.
func NewS3(o S3Options) (*S3, error) {
	if o.AccessKey == "" || o.SecretKey == "" {
		return nil, errors.New("S3 storage needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	creds := aws.Credentials{AccessKeyID: o.AccessKey, SecretAccessKey: o.SecretKey, Source: "agora"}
	opts := s3.Options{
		Region:       o.Region,
		UsePathStyle: o.PathStyle,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return creds, nil
		}),
		// Checksums only where the API requires them: not every S3-compatible store reads the
		// SDK's default trailing checksums.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
	if o.Endpoint != "" {
		opts.BaseEndpoint = aws.String(o.Endpoint)
	}
	c := s3.New(opts)
	return &S3{client: c, presign: s3.NewPresignClient(c), bucket: o.Bucket, endpoint: o.Endpoint}, nil
}

// Put uploads the file (r must be seekable for the request's signature: the callers pass byte readers).
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &s.bucket, Key: &key, Body: r, ContentLength: aws.Int64(size), ContentType: aws.String(contentType),
		CacheControl: aws.String("public, max-age=31536000, immutable"),
	})
	return err
}

// Get streams the object.
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		var nsk *types.NoSuchKey
		var api smithy.APIError
		if errors.As(err, &nsk) || errors.As(err, &api) && (api.ErrorCode() == "NotFound" || api.ErrorCode() == "NoSuchKey") {
			return nil, 0, ErrNotExist
		}
		return nil, 0, err
	}
	return out.Body, aws.ToInt64(out.ContentLength), nil
}

// Delete removes the objects one by one: DeleteObjects needs a Content-MD5 some stores require
// and others refuse.
func (s *S3) Delete(ctx context.Context, keys ...string) error {
	var errs []error
	for _, k := range keys {
		if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: aws.String(k)}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// PresignPut signs a PUT of exactly size bytes: the store refuses any other length.
func (s *S3) PresignPut(ctx context.Context, key string, size int64, ttl time.Duration) (string, error) {
	req, err := s.presign.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: &s.bucket, Key: &key, ContentLength: aws.Int64(size)},
		s3.WithPresignExpires(ttl))
	if err != nil {
		return "", err
	}
	return req.URL, nil
}

// Name is the bucket and endpoint.
func (s *S3) Name() string {
	if s.endpoint == "" {
		return "s3:" + s.bucket
	}
	return "s3:" + s.bucket + "@" + s.endpoint
}

// Stale lists the objects under prefix last modified before cutoff, from the first pages of the
// listing: what a run leaves the next one finds.
func (s *S3) Stale(ctx context.Context, prefix string, cutoff time.Time, limit int) ([]string, error) {
	var keys []string
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &prefix})
	for pages := 0; p.HasMorePages() && pages < 10 && len(keys) < limit; pages++ {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, o := range out.Contents {
			if o.Key != nil && o.LastModified != nil && o.LastModified.Before(cutoff) && len(keys) < limit {
				keys = append(keys, *o.Key)
			}
		}
	}
	return keys, nil
}
