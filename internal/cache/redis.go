package cache

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// OpenRedis returns a client for url: one Redis (redis://host:6379/0), or the master a Redis
// Sentinel set-up names (redis://sentinel1:26379?master_name=NAME&addr=sentinel2:26379; the
// client follows failovers). Redis that does not answer at start-up is no reason not to start:
// Agora runs degraded (see graph/server.New) and go-redis connects once Redis is up. Timeouts and retries
// are kept short unless the URL sets them (dial_timeout, read_timeout, max_retries…), so a Redis
// that is down costs each request little.
func OpenRedis(ctx context.Context, log *slog.Logger, url string) (redis.UniversalClient, error) {
	var rdb *redis.Client
	if strings.Contains(url, "master_name=") {
		opts, err := redis.ParseFailoverURL(url)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		shortWaits(&opts.DialTimeout, &opts.ReadTimeout, &opts.WriteTimeout, &opts.MaxRetries, &opts.DialerRetries)
		smallBuffers(&opts.ReadBufferSize, &opts.WriteBufferSize, &opts.PipelineReadBufferSize, &opts.PipelineWriteBufferSize)
		opts.ContextTimeoutEnabled = true // a request's deadline (see Guard) bounds reads and writes too
		rdb = redis.NewFailoverClient(opts)
	} else {
		opts, err := redis.ParseURL(url)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		shortWaits(&opts.DialTimeout, &opts.ReadTimeout, &opts.WriteTimeout, &opts.MaxRetries, &opts.DialerRetries)
		smallBuffers(&opts.ReadBufferSize, &opts.WriteBufferSize, &opts.PipelineReadBufferSize, &opts.PipelineWriteBufferSize)
		opts.ContextTimeoutEnabled = true
		rdb = redis.NewClient(opts)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pingCtx).Err(); err != nil {
		log.Warn("Redis does not answer: starting without it until it does. Meanwhile rate limits and persisted queries "+
			"are this replica's own, cached entities are read from the database, and subscriptions are unavailable",
			"err", err)
	}
	return rdb, nil
}

// shortWaits sets the timeouts (1 s) and retries (one) the URL left unset.
func shortWaits(dial, read, write *time.Duration, retries, dialRetries *int) {
	for _, d := range []*time.Duration{dial, read, write} {
		if *d == 0 {
			*d = time.Second
		}
	}
	for _, n := range []*int{retries, dialRetries} {
		if *n == 0 {
			*n = 1
		}
	}
}

// smallBuffers sizes the connections' buffers the URL left unset. go-redis's defaults (32 KiB each
// way, 128 KiB on its pipeline connections) are for large values; Agora's replies are small (a
// loader batch's MGET is the largest), and a reply larger than the buffer is read past it anyway.
func smallBuffers(read, write, pipelineRead, pipelineWrite *int) {
	for p, size := range map[*int]int{read: 8 << 10, write: 8 << 10, pipelineRead: 32 << 10, pipelineWrite: 8 << 10} {
		if *p == 0 {
			*p = size
		}
	}
}
