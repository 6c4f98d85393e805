package main

import "syscall"

// childAttr makes a server die with the harness, even when the harness
// is killed without a chance to stop it.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
