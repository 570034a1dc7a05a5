//go:build !unix

package regular

// nonBlock: elsewhere there are no named pipes in the file system to wait on.
const nonBlock = 0
