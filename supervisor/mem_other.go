//go:build !linux

package supervisor

// memReader reads nothing where there is no /proc to read: the status then
// leaves rss_bytes out.
type memReader struct{}

func newMemReader(int) *memReader { return &memReader{} }

func (*memReader) read() uint64 { return 0 }
