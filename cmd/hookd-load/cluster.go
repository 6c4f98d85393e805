package main

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
)

// clusterNodes is how many nodes the cluster scenarios start: the
// smallest cluster that keeps a quorum with one node down.
const clusterNodes = 3

// clusterArgs returns the `hookd serve` arguments of each node of a
// cluster on embedded NATS servers: serve's arguments, then the node's
// own data folder under dir, its name and its free loopback ports.
func clusterArgs(serve []string, dir string, nodes int) ([][]string, error) {
	ports, err := freePorts(2 * nodes)
	if err != nil {
		return nil, err
	}
	peers := make([]string, nodes)
	for i := range peers {
		peers[i] = fmt.Sprintf("127.0.0.1:%d", ports[nodes+i])
	}
	argvs := make([][]string, nodes)
	for i := range argvs {
		argvs[i] = append(append([]string(nil), serve...),
			"--data", filepath.Join(dir, fmt.Sprintf("data-n%d", i)), "--node", fmt.Sprintf("n%d", i),
			"--cluster-peers", strings.Join(peers, ","), "--cluster-listen", peers[i],
			"--nats-listen", fmt.Sprintf("127.0.0.1:%d", ports[i]))
	}
	return argvs, nil
}

// freePorts returns n distinct loopback ports that were free a moment
// ago (another process may take one before a node listens on it).
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port for a cluster node: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
