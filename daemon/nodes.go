package daemon

import (
	"context"
	"time"

	"github.com/hookd/hookd/internal/loop"
	"github.com/hookd/hookd/store"
)

// announceEvery is how often a node of a cluster announces its rules.
const announceEvery = 10 * time.Second

// announce tells the other nodes of a cluster which rules this node
// runs, at start, after each reload and every announceEvery.
func (d *Daemon) announce(ctx context.Context) {
	c, ok := d.store.(store.Cluster)
	if !ok {
		return
	}
	var (
		last   string // the rules last announced
		lastAt time.Time
	)
	loop.Every(ctx, time.Second, true, func() {
		st := d.Status()
		now := time.Now()
		if st.Version == last && now.Sub(lastAt) < announceEvery {
			return
		}
		info := store.NodeInfo{RulesVersion: st.Version, RulesLoaded: st.LoadedAt, SeenAt: now}
		if err := c.Announce(ctx, info); err != nil {
			if ctx.Err() == nil {
				d.log.Warn("announce this node's rules to the cluster", "err", err)
			}
			return
		}
		last, lastAt = st.Version, now
	})
}

// nodes lists the cluster's nodes (nil for a store of one node).
func (d *Daemon) nodes(ctx context.Context) ([]store.NodeInfo, error) {
	c, ok := d.store.(store.Cluster)
	if !ok {
		return nil, nil
	}
	return c.Nodes(ctx)
}

// disagreeing counts the cluster's nodes that run other rules than this
// one (0 for a store of one node).
func (d *Daemon) disagreeing(ctx context.Context) (int, error) {
	nodes, err := d.nodes(ctx)
	if err != nil {
		return 0, err
	}
	mine := d.Status().Version
	n := 0
	for _, node := range nodes {
		if node.RulesVersion != mine {
			n++
		}
	}
	return n, nil
}
