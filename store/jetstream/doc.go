// Package jetstream is a store.Store replicated by NATS JetStream, for
// hookd nodes that share one record: any node accepts an event, a
// duplicate posted to two nodes runs once, and throttles, windows,
// digests and mutes hold across the nodes.
//
// # Design: one replicated log, a read model on each node
//
// Every change to the store is a command appended to one JetStream
// stream (file storage compressed with S2, Replicas copies, see
// Options): an accepted event with its jobs and state changes, a job's
// outcome, a requeue, a swap, a mute. The stream orders all commands of
// all nodes, and JetStream acknowledges a publish only once a majority
// of the replicas stored it, so an acknowledged command survives the
// loss of a minority of the servers.
//
// Each Store applies the log, in order and from its start, to a read
// model of its own: a store/sqlite store in Options.Dir, rebuilt at each
// Open. Applying is deterministic (the command carries its time, and job
// and mute ids come from the model's own counters, which every node
// advances alike), so every node's model holds the same events, jobs,
// states and mutes, and every node answers the same queries alike. A
// write returns once this node applied its command, with the outcome of
// that application; a read first waits until the node has applied every
// command the stream held when the read began, so it sees every write
// that returned before it, on any node.
//
// # Sharing commands
//
// A command costs the same whether it holds one event or many: a publish
// that three servers store, and one transaction of each node's model. So
// the Accept calls that arrive on a node while its commands are in
// flight share the next command (group commit, as the SQLite store's
// writer does), and with LazyJobUpdates the outcomes of jobs (Done,
// Retry, Dead) are queued and logged together.
//
// # Dedupe
//
// An event is stored once per identity key because the model's unique
// key decides it, in log order: of two nodes accepting one event, the
// command that comes first in the log stores it and the other is a
// duplicate, on every node alike. A node answers an event its model
// holds already as a duplicate without writing to the log. Publishes
// carry a Nats-Msg-Id, so a publish retried after a lost
// acknowledgement is stored once.
//
// # State: read, compute, compare and set
//
// A rule's step (store.Step) is a function, which a log cannot carry.
// The accepting node therefore computes it: it reads the state from its
// model, calls Apply and Jobs, and logs the result together with the
// version of the state it read (the log position of the command that
// last wrote it, kept in front of the stored value). Applying the
// command checks the version first: when another node changed the state
// meanwhile, the record is not applied anywhere (a conflict), and the
// accepting node computes it again on the newer state and logs it again.
// So a window counts each event once, and a throttle fires once per
// period, across all nodes. Swap compares the stored value the same way.
//
// # Jobs and their nodes
//
// Every job belongs to the node whose Store created it (Options.Node),
// and only that node's PendingPage and TakeRequeued hand it out, so one
// job is delivered by one node. A job of a node that is down waits for
// it to return (it is in the log); Requeue keeps a job's node unless it
// is made by a Store with a Node, which then takes the job.
//
// # When a write fails
//
// A write returns an error when its command is not in the log within
// Options.Timeout (no quorum, no server), or is in the log but this node
// has not applied it within three times that. An accept command carries
// a deadline, half the timeout after it was made: stored after it (by the
// stream's clock), it is applied nowhere. So an Accept that failed never
// stores its events later, also when the client sends a publish it held
// while it was disconnected once it reconnects. Two cases are left: a
// command in the log whose application this node did not see within the
// longer wait, and a command the stream's leader stored (and stamped)
// in the seconds before it noticed that its quorum was gone, which the
// replicas commit once they are back. Their events are stored, and the
// sender's retry is then a duplicate. The nodes' clocks must agree to
// within half the timeout (run NTP).
//
// # What is not here yet
//
// The log is kept whole: Prune deletes from every node's model, not from
// the stream, and Open replays the stream from its start. Snapshots of
// the model, after which the stream could be truncated, are future work.
package jetstream
