package daemon

import "sync"

// bodyPool recycles the buffers request bodies are read into: at full
// intake the bodies were a large share of the bytes hookd allocated (see
// BENCHMARKS.md, "Figures behind the code"), and each new one was zeroed
// before being read into. A buffer goes back once
// its request is answered; by then the store has copied the events into
// its own write buffer, and nothing else keeps the body (parsed fields
// are copies, jobs keep their rendered parameters).
type bodyPool struct {
	pool sync.Pool // of *[maxPooledBody]byte
}

// maxPooledBody is the largest body read into a pooled buffer: Wassenger
// events are a few KB; larger ones get a buffer of their own.
const maxPooledBody = 16 << 10

var bodies bodyPool

// get returns a buffer of length n.
func (p *bodyPool) get(n int64) []byte {
	if n > maxPooledBody {
		return make([]byte, n)
	}
	if a, ok := p.pool.Get().(*[maxPooledBody]byte); ok {
		return a[:n]
	}
	return new([maxPooledBody]byte)[:n]
}

// put gives back a buffer from get; others are left to the collector.
// The array pointer is the buffer itself, so putting it back allocates
// nothing.
func (p *bodyPool) put(b []byte) {
	if cap(b) != maxPooledBody {
		return
	}
	a := (*[maxPooledBody]byte)(b[:maxPooledBody])
	if raceEnabled {
		// Under the race detector (go test -race), each buffer put back
		// is overwritten, so that a body used after its request was
		// answered corrupts what the tests see.
		for i := range a {
			a[i] = 'X'
		}
	}
	p.pool.Put(a)
}
