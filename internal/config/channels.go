package config

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Channels bounds what one client may hold or spend outside a single HTTP request: long-lived
// connections and their subscriptions, persisted queries, sign-in attempts on one account from
// many addresses, and the time a request waits for Redis. Defaults are in Defaults.
type Channels struct {
	SocketsPerIP         int           // AGORA_MAX_SOCKETS_PER_IP: open WebSockets and event streams of anonymous callers per client address (default 50)
	SocketsPerUser       int           // AGORA_MAX_SOCKETS_PER_USER: open WebSockets and event streams per signed-in user (default 10)
	TopicSubscribers     int           // AGORA_MAX_TOPIC_SUBSCRIBERS: subscribers of one topic (a post's comments, a conversation, a user's notifications) per replica (default 2000)
	APQMaxBytes          int           // AGORA_APQ_MAX_BYTES: largest document registered as an automatic persisted query (default 65536)
	APQCacheBytes        int           // AGORA_APQ_CACHE_BYTES: persisted-query text kept in this process (default 16 MiB)
	APQTTL               time.Duration // AGORA_APQ_TTL: how long Redis keeps a persisted query (default 24h)
	APQRegister          Budget        // AGORA_APQ_REGISTER_LIMIT: registrations of new persisted queries per user or anonymous client address (default 100/1h)
	LoginPerAccountTotal Budget        // AGORA_LOGIN_LIMIT_ACCOUNT_TOTAL: failed sign-ins per account from all addresses together (default 100/1h)
	RedisMaxWait         time.Duration // AGORA_REDIS_MAX_WAIT: the most one request (or socket operation) waits for Redis, all commands together (default 500ms)
}

// loadChannels reads Channels from the environment.
func loadChannels(d Channels) (Channels, []error) {
	var errs []error
	c := Channels{
		SocketsPerIP:         parse(&errs, "AGORA_MAX_SOCKETS_PER_IP", d.SocketsPerIP, strconv.Atoi),
		SocketsPerUser:       parse(&errs, "AGORA_MAX_SOCKETS_PER_USER", d.SocketsPerUser, strconv.Atoi),
		TopicSubscribers:     parse(&errs, "AGORA_MAX_TOPIC_SUBSCRIBERS", d.TopicSubscribers, strconv.Atoi),
		APQMaxBytes:          parse(&errs, "AGORA_APQ_MAX_BYTES", d.APQMaxBytes, strconv.Atoi),
		APQCacheBytes:        parse(&errs, "AGORA_APQ_CACHE_BYTES", d.APQCacheBytes, strconv.Atoi),
		APQTTL:               parse(&errs, "AGORA_APQ_TTL", d.APQTTL, time.ParseDuration),
		APQRegister:          parse(&errs, "AGORA_APQ_REGISTER_LIMIT", d.APQRegister, ParseBudget),
		LoginPerAccountTotal: parse(&errs, "AGORA_LOGIN_LIMIT_ACCOUNT_TOTAL", d.LoginPerAccountTotal, ParseBudget),
		RedisMaxWait:         parse(&errs, "AGORA_REDIS_MAX_WAIT", d.RedisMaxWait, time.ParseDuration),
	}
	for name, v := range map[string]int{"AGORA_MAX_SOCKETS_PER_IP": c.SocketsPerIP, "AGORA_MAX_SOCKETS_PER_USER": c.SocketsPerUser,
		"AGORA_MAX_TOPIC_SUBSCRIBERS": c.TopicSubscribers, "AGORA_APQ_MAX_BYTES": c.APQMaxBytes, "AGORA_APQ_CACHE_BYTES": c.APQCacheBytes} {
		if v < 1 {
			errs = append(errs, fmt.Errorf("%s: want at least 1", name))
		}
	}
	if c.APQCacheBytes < c.APQMaxBytes {
		errs = append(errs, errors.New("AGORA_APQ_CACHE_BYTES: want at least AGORA_APQ_MAX_BYTES"))
	}
	for name, d := range map[string]time.Duration{"AGORA_APQ_TTL": c.APQTTL, "AGORA_REDIS_MAX_WAIT": c.RedisMaxWait} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s: want a positive duration", name))
		}
	}
	return c, errs
}

func (c Channels) String() string {
	return fmt.Sprintf("max_sockets_per_ip=%d max_sockets_per_user=%d max_topic_subscribers=%d apq_max_bytes=%d apq_cache_bytes=%d "+
		"apq_ttl=%s apq_register_limit=%s login_limit_account_total=%s redis_max_wait=%s",
		c.SocketsPerIP, c.SocketsPerUser, c.TopicSubscribers, c.APQMaxBytes, c.APQCacheBytes,
		c.APQTTL, c.APQRegister, c.LoginPerAccountTotal, c.RedisMaxWait)
}
