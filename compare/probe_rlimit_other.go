//go:build !unix

package compare

import "errors"

// RaiseFileLimit is not supported here.
func RaiseFileLimit() (uint64, error) {
	return 0, errors.New("compare: no file limit to raise on this system")
}
