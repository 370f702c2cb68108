//go:build !unix

package probe

import "errors"

// RaiseFileLimit is not supported here.
func RaiseFileLimit() (uint64, error) {
	return 0, errors.New("probe: no file limit to raise on this system")
}
