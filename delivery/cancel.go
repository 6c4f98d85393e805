package delivery

// Cancel tells the deliverer that jobs were cancelled in the store
// (Store.Cancel): those still waiting in memory are dropped instead of
// run. An attempt already running finishes; the store does not record
// its outcome, the job being no longer pending.
func (d *Deliverer) Cancel(ids ...int64) { d.q.cancel(ids) }

// cancel marks queued jobs to be dropped. A read of the store under way
// may have found them still pending: it does not queue them.
func (q *queue) cancel(ids []int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, id := range ids {
		for r := range q.reads {
			r.left[id] = true
		}
		if !q.queued[id] {
			continue
		}
		if q.cancelled == nil {
			q.cancelled = map[int64]bool{}
		}
		q.cancelled[id] = true
	}
}

// dropCancelled reports whether the job was cancelled; if so it leaves
// the queue.
func (q *queue) dropCancelled(id int64) bool {
	q.mu.Lock()
	if !q.cancelled[id] {
		q.mu.Unlock()
		return false
	}
	q.leave(id)
	q.mu.Unlock()
	return true
}
