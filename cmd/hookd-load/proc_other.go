//go:build !linux

package main

import "syscall"

// childAttr is empty where a parent-death signal does not exist.
func childAttr() *syscall.SysProcAttr { return nil }
