package web

import (
	"sync"
	"time"
)

// remembered holds keys (accepted signatures, GitHub deliveries) until
// they expire, at most MaxRemembered of them.
type remembered struct {
	mu   sync.Mutex
	keys map[string]time.Time // key -> when it may be forgotten
}

type addResult int

const (
	added addResult = iota
	seenBefore
	seenFull
)

// add records key until expires. When the set is full of unexpired keys,
// evict makes room by forgetting the one that expires first; otherwise
// the key is refused.
func (m *remembered) add(key string, expires, now time.Time, evict bool) addResult {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.keys == nil {
		m.keys = map[string]time.Time{}
	}
	if exp, ok := m.keys[key]; ok && now.Before(exp) {
		return seenBefore
	}
	if len(m.keys) >= MaxRemembered {
		for k, exp := range m.keys {
			if !now.Before(exp) {
				delete(m.keys, k)
			}
		}
	}
	if len(m.keys) >= MaxRemembered {
		if !evict {
			return seenFull
		}
		first, firstExp := "", time.Time{}
		for k, exp := range m.keys {
			if first == "" || exp.Before(firstExp) {
				first, firstExp = k, exp
			}
		}
		delete(m.keys, first)
	}
	m.keys[key] = expires
	return added
}
