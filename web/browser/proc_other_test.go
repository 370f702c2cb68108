//go:build !unix && !js

package browser_test

import "os/exec"

// killGroupOnCancel leaves cmd as it is: without process groups only the
// go command itself is killed when the context ends.
func killGroupOnCancel(*exec.Cmd) {}
