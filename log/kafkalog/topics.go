package kafkalog

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strmlocal/strmlocal/log"
)

// errNoTopic says a stream's topic does not exist (and the stream is not
// dropped): a stream never appended to.
var errNoTopic = errors.New("kafka log: no topic")

// topic returns the metadata of the stream's topic, from the cache or the
// cluster. A missing topic is errNoTopic, or log.ErrDropped when the
// stream's dropped marker is set (a drop by another process).
func (l *Log) topic(ctx context.Context, s *stream) (topicMeta, error) {
	s.mu.Lock()
	m, ok, dropped := s.meta, s.metaOK, s.dropped
	s.mu.Unlock()
	if dropped {
		return topicMeta{}, log.ErrDropped
	}
	if ok {
		return m, nil
	}
	m, err := l.loadMeta(ctx, s)
	if err != nil {
		return topicMeta{}, err
	}
	if !m.exists {
		dropped, err := l.readMarker(s)
		switch {
		case err != nil:
			return topicMeta{}, err
		case dropped:
			return topicMeta{}, log.ErrDropped
		}
		return topicMeta{}, errNoTopic
	}
	s.mu.Lock()
	s.meta, s.metaOK = m, true
	s.mu.Unlock()
	return m, nil
}

// loadMeta asks the cluster about the stream's topic. A missing topic is
// not cached: another process may create it at any time.
func (l *Log) loadMeta(ctx context.Context, s *stream) (topicMeta, error) {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(s.topic)
	req.Topics = append(req.Topics, rt)
	req.AllowAutoTopicCreation = false
	resp, err := req.RequestWith(ctx, l.cl)
	if err != nil {
		return topicMeta{}, l.unavailable("describe", s, err)
	}
	if len(resp.Topics) != 1 {
		return topicMeta{}, fmt.Errorf("kafka log: metadata of topic %s: %d topics in the answer", s.topic, len(resp.Topics))
	}
	t := resp.Topics[0]
	switch err := kerr.ErrorForCode(t.ErrorCode); {
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		return topicMeta{}, nil
	case err != nil:
		return topicMeta{}, l.unavailable("describe", s, err)
	}
	if len(t.Partitions) != 1 {
		return topicMeta{}, fmt.Errorf("kafka log: topic %s has %d partitions: a stream's topic has exactly one", s.topic, len(t.Partitions))
	}
	p := t.Partitions[0]
	if p.Leader < 0 {
		return topicMeta{}, l.unavailable("describe", s, kerr.LeaderNotAvailable)
	}
	return topicMeta{exists: true, id: t.TopicID, leader: p.Leader}, nil
}

// forgetMeta drops the cached metadata (a leader moved, the topic went).
func (l *Log) forgetMeta(s *stream) {
	s.mu.Lock()
	s.metaOK = false
	s.mu.Unlock()
}

// ensureTopic returns the topic's metadata, creating the topic (one
// partition) when it is missing. Several processes may race to create it:
// TOPIC_ALREADY_EXISTS is success. A stream dropped meanwhile (its marker
// set before or during the creation) is log.ErrDropped, and the topic just
// created is deleted again.
func (l *Log) ensureTopic(ctx context.Context, s *stream) (topicMeta, error) {
	m, err := l.topic(ctx, s)
	if !errors.Is(err, errNoTopic) {
		return m, err
	}
	res, err := l.adm.CreateTopic(ctx, 1, l.opts.ReplicationFactor, l.configs, s.topic)
	switch {
	case err == nil, errors.Is(err, kerr.TopicAlreadyExists), errors.Is(res.Err, kerr.TopicAlreadyExists):
	default:
		if res.ErrMessage != "" {
			err = fmt.Errorf("%w: %s", err, res.ErrMessage)
		}
		var ke *kerr.Error
		if errors.As(err, &ke) && !ke.Retriable && !errors.Is(err, kerr.RequestTimedOut) {
			return topicMeta{}, fmt.Errorf("kafka log: create topic %s: %w", s.topic, err)
		}
		return topicMeta{}, l.unavailable("create", s, err)
	}
	if err == nil {
		l.opts.Logger.Debug("kafka log: created topic", "topic", s.topic)
	}
	// A drop that raced with the creation: its marker is committed
	// before it deletes the topic, so either it deletes ours or we see
	// its marker here.
	if dropped, err := l.readMarker(s); err != nil || dropped {
		if dropped {
			l.deleteTopic(s)
			err = log.ErrDropped
		}
		return topicMeta{}, err
	}
	return l.topic(ctx, s)
}

// deleteTopic deletes the stream's topic, if it exists, logging a failure
// (the marker in the State makes the stream dropped anyway; whoever next
// finds the marker deletes the topic again).
func (l *Log) deleteTopic(s *stream) error {
	ctx, cancel := context.WithTimeout(context.Background(), l.opts.ProduceTimeout)
	defer cancel()
	_, err := l.adm.DeleteTopic(ctx, s.topic)
	l.forgetMeta(s)
	if err == nil || errors.Is(err, kerr.UnknownTopicOrPartition) || errors.Is(err, kerr.UnknownTopicID) {
		return nil
	}
	l.opts.Logger.Warn("kafka log: delete the topic of a dropped stream", "topic", s.topic, "err", err)
	return err
}
