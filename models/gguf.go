package models

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
)

// Magic is how every GGUF file starts.
const Magic = "GGUF"

// DefaultAlignment is where tensor data starts when the file does not say
// (general.alignment): the next multiple of 32 bytes after the header.
const DefaultAlignment = 32

// Limits on what ReadHeader accepts. A model file comes from the internet:
// a damaged or hostile header must not make the agent allocate gigabytes or
// read for minutes. Real headers stay far below these: a few dozen keys,
// keys of a few dozen bytes, at most tens of thousands of tensors, and a
// header (the tokenizer's vocabulary is its bulk) of tens of megabytes.
const (
	MaxHeaderBytes = 512 << 20 // bytes read before giving up on a header
	maxKeyLen      = 64 << 10  // longest metadata key
	maxKeys        = 1 << 16   // metadata key-value pairs
	maxTensors     = 1 << 22   // tensor infos
	maxDims        = 4         // dimensions of a tensor (ggml's limit)
	maxKeptString  = 1 << 10   // longest string value kept (architecture, name)
)

// Header is what a GGUF header says about a model file. Only what ocm-tray
// uses is kept: the header is read as a stream and everything else skipped.
type Header struct {
	Version     uint32
	TensorCount uint64
	Alignment   uint64

	// InfoEnd is where the header ends (after the tensor infos); the tensor
	// data begins at the next multiple of Alignment.
	InfoEnd int64
	// DataEnd is the least size of a complete file: where the data of the
	// tensor that ends last ends. It is InfoEnd for a file without tensors,
	// and 0 when some tensor has a type this reader does not know the size
	// of (then completeness cannot be judged).
	DataEnd int64

	// Params is the number of weights: the elements of every tensor.
	Params uint64
	// FileType is general.file_type (llama.cpp's llama_ftype), -1 when
	// the file does not say.
	FileType int64
	// MainType is the ggml type holding the most bytes of tensor data, the
	// quantisation to show when FileType is missing (-1 when unknown).
	MainType int64

	Architecture string // general.architecture
	Name         string // general.name

	// SplitCount is split.count: how many files a split model has (0 when
	// the key is absent). SplitNo is split.no, counting from 0.
	SplitNo, SplitCount int
}

// ErrNotGGUF means the file does not start with the GGUF magic.
var ErrNotGGUF = errors.New("not a GGUF file")

// ShortError means the file ends inside its header: the header says more
// follows than the file holds.
type ShortError struct {
	At int64 // where the file ended
}

func (e *ShortError) Error() string {
	return fmt.Sprintf("GGUF header cut short at byte %d", e.At)
}

// DamagedError means the header is not one llama.cpp would read: a
// value out of its range, an unknown metadata type, an absurd count.
type DamagedError struct {
	At  int64 // the byte offset where the problem was found
	Msg string
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("bad GGUF header at byte %d: %s", e.At, e.Msg)
}

// UnsupportedError means the header is of a kind this reader does not
// know (a newer GGUF version, the other byte order). It is not proof of a
// bad file: llama-server may read it.
type UnsupportedError struct {
	Msg string
}

func (e *UnsupportedError) Error() string { return e.Msg }

// The metadata value types of GGUF.
const (
	typeUint8 uint32 = iota
	typeInt8
	typeUint16
	typeInt16
	typeUint32
	typeInt32
	typeFloat32
	typeBool
	typeString
	typeArray
	typeUint64
	typeInt64
	typeFloat64
)

// scalarSize is the byte size of the fixed-size metadata types.
var scalarSize = map[uint32]int64{
	typeUint8: 1, typeInt8: 1, typeBool: 1,
	typeUint16: 2, typeInt16: 2,
	typeUint32: 4, typeInt32: 4, typeFloat32: 4,
	typeUint64: 8, typeInt64: 8, typeFloat64: 8,
}

// ReadHeader reads a GGUF header from r, a file of size bytes (size bounds
// every length the header claims: a claim past the end of the file is a
// ShortError, not an allocation). It reads the header only, never the
// tensor data, and keeps O(1) memory whatever the header says.
//
// The errors are ErrNotGGUF, *ShortError, *DamagedError, *UnsupportedError,
// or the reader's own error.
func ReadHeader(r io.Reader, size int64) (Header, error) {
	hr := &headerReader{r: bufio.NewReaderSize(r, 64<<10), size: size}
	return hr.read()
}

type headerReader struct {
	r    *bufio.Reader
	pos  int64
	size int64
	h    Header
	buf  [8]byte
	// err is the first failure. Once it is set every read returns zeros
	// and every loop ends, so the parse unwinds without checks at each step.
	err error
}

func (hr *headerReader) read() (Header, error) {
	if magic := hr.fixed(4); hr.err != nil || string(magic) != Magic {
		if hr.err == nil || isShort(hr.err) {
			return Header{}, ErrNotGGUF
		}
		return Header{}, hr.err
	}
	hr.h = Header{Alignment: DefaultAlignment, FileType: -1, MainType: -1}
	v := hr.u32()
	switch {
	case hr.err != nil:
		return Header{}, hr.err
	case v == 1:
		return Header{}, hr.damaged("GGUF version 1, which llama.cpp no longer reads")
	case v == 2 || v == 3:
	case v&0xffff == 0 && bits.ReverseBytes32(v) <= 3:
		return Header{}, &UnsupportedError{Msg: "a big-endian GGUF file"}
	default:
		return Header{}, &UnsupportedError{Msg: fmt.Sprintf("GGUF version %d, newer than this ocm-tray knows", v)}
	}
	hr.h.Version = v
	nTensors, nKeys := hr.u64(), hr.u64()
	switch {
	case hr.err != nil:
		return Header{}, hr.err
	case nTensors > maxTensors:
		return Header{}, hr.damaged(fmt.Sprintf("%d tensors", nTensors))
	case nKeys > maxKeys:
		return Header{}, hr.damaged(fmt.Sprintf("%d metadata keys", nKeys))
	}
	hr.h.TensorCount = nTensors
	for i := uint64(0); i < nKeys && hr.err == nil; i++ {
		hr.keyValue()
	}
	hr.tensors(nTensors)
	if hr.err != nil {
		return Header{}, hr.err
	}
	return hr.h, nil
}

func isShort(err error) bool {
	var se *ShortError
	return errors.As(err, &se)
}

// fail records the first failure.
func (hr *headerReader) fail(err error) {
	if hr.err == nil {
		hr.err = err
	}
}

func (hr *headerReader) damaged(msg string) error { return &DamagedError{At: hr.pos, Msg: msg} }

// need checks that n more bytes fit in the file and in the header budget.
func (hr *headerReader) need(n uint64) bool {
	switch {
	case hr.err != nil:
		return false
	case n > uint64(hr.size-hr.pos):
		hr.fail(&ShortError{At: hr.size})
		return false
	case n > uint64(MaxHeaderBytes-hr.pos):
		hr.fail(hr.damaged(fmt.Sprintf("header larger than %d MB", MaxHeaderBytes>>20)))
		return false
	}
	return true
}

func (hr *headerReader) readErr(err error) {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		// Shorter than it was a moment ago: it is being rewritten.
		hr.fail(&ShortError{At: hr.pos})
		return
	}
	hr.fail(fmt.Errorf("read model file: %w", err))
}

// read reads n bytes into a fresh slice (nil after a failure).
func (hr *headerReader) bytes(n int) []byte {
	if !hr.need(uint64(n)) {
		return nil
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(hr.r, b); err != nil {
		hr.readErr(err)
		return nil
	}
	hr.pos += int64(n)
	return b
}

// fixed reads n <= 8 bytes into the reader's buffer (zeros after a failure).
func (hr *headerReader) fixed(n int) []byte {
	b := hr.buf[:n]
	clear(b)
	if !hr.need(uint64(n)) {
		return b
	}
	if _, err := io.ReadFull(hr.r, b); err != nil {
		hr.readErr(err)
		clear(b)
		return b
	}
	hr.pos += int64(n)
	return b
}

func (hr *headerReader) u32() uint32 { return binary.LittleEndian.Uint32(hr.fixed(4)) }
func (hr *headerReader) u64() uint64 { return binary.LittleEndian.Uint64(hr.fixed(8)) }

// skip passes over n bytes without keeping them.
func (hr *headerReader) skip(n uint64) {
	if !hr.need(n) {
		return
	}
	for n > 0 {
		d, err := hr.r.Discard(int(min(n, 1<<30)))
		hr.pos += int64(d)
		n -= uint64(d)
		if err != nil {
			hr.readErr(err)
			return
		}
	}
}

// str reads a string, keeping it only when it is at most keep bytes long.
func (hr *headerReader) str(keep int) (string, bool) {
	n := hr.u64()
	if n > uint64(keep) {
		hr.skip(n)
		return "", false
	}
	b := hr.bytes(int(n))
	return string(b), hr.err == nil
}

func (hr *headerReader) keyValue() {
	at := hr.pos
	n := hr.u64()
	if n > maxKeyLen {
		hr.fail(&DamagedError{At: at, Msg: fmt.Sprintf("a metadata key of %d bytes", n)})
		return
	}
	key := string(hr.bytes(int(n)))
	typ := hr.u32()
	if hr.err != nil {
		return
	}
	switch key {
	case "general.architecture", "general.name":
		if typ != typeString {
			hr.value(typ)
			return
		}
		s, ok := hr.str(maxKeptString)
		if ok && key == "general.architecture" {
			hr.h.Architecture = s
		} else if ok {
			hr.h.Name = s
		}
	case "general.alignment":
		if typ != typeUint32 {
			hr.fail(&DamagedError{At: at, Msg: "general.alignment is not a uint32"})
			return
		}
		a := hr.u32()
		if hr.err == nil && (a == 0 || a&(a-1) != 0) {
			hr.fail(&DamagedError{At: at, Msg: fmt.Sprintf("general.alignment %d is not a power of two", a)})
			return
		}
		hr.h.Alignment = uint64(a)
	case "general.file_type":
		if v, ok := hr.integer(typ); ok {
			hr.h.FileType = v
		}
	case "split.no", "split.count":
		v, ok := hr.integer(typ)
		if ok && v >= 0 && v <= math.MaxUint16 {
			if key == "split.no" {
				hr.h.SplitNo = int(v)
			} else {
				hr.h.SplitCount = int(v)
			}
		}
	default:
		hr.value(typ)
	}
}

// integer reads a value of an integer type; other types are skipped.
func (hr *headerReader) integer(typ uint32) (int64, bool) {
	var v int64
	switch typ {
	case typeUint8, typeInt8:
		v = int64(hr.fixed(1)[0])
	case typeUint16, typeInt16:
		v = int64(binary.LittleEndian.Uint16(hr.fixed(2)))
	case typeUint32:
		v = int64(hr.u32())
	case typeInt32:
		v = int64(int32(hr.u32()))
	case typeUint64, typeInt64:
		u := hr.u64()
		if u > math.MaxInt64 {
			return 0, false
		}
		v = int64(u)
	default:
		hr.value(typ)
		return 0, false
	}
	return v, hr.err == nil
}

// value skips a metadata value of type typ.
func (hr *headerReader) value(typ uint32) {
	if n, ok := scalarSize[typ]; ok {
		hr.skip(uint64(n))
		return
	}
	switch typ {
	case typeString:
		hr.skip(hr.u64())
	case typeArray:
		elem, count := hr.u32(), hr.u64()
		if n, ok := scalarSize[elem]; ok {
			hi, total := bits.Mul64(count, uint64(n))
			if hi != 0 {
				hr.fail(hr.damaged(fmt.Sprintf("an array of %d elements", count)))
				return
			}
			hr.skip(total)
			return
		}
		if elem != typeString {
			// llama.cpp reads no arrays of arrays.
			hr.fail(hr.damaged(fmt.Sprintf("an array of metadata type %d", elem)))
			return
		}
		// Each string is at least its 8-byte length: a count the file
		// cannot hold ends here, not after count iterations.
		if !hr.need(min(count, math.MaxUint64/8) * 8) {
			return
		}
		for i := uint64(0); i < count && hr.err == nil; i++ {
			hr.skip(hr.u64())
		}
	default:
		hr.fail(hr.damaged(fmt.Sprintf("unknown metadata type %d", typ)))
	}
}

// tensors reads the tensor infos and works out where the data ends, how
// many weights there are and which type holds most of them.
func (hr *headerReader) tensors(n uint64) {
	var end uint64 // relative to the start of the data section
	known := true
	bytesByType := map[uint32]uint64{}
	for i := uint64(0); i < n && hr.err == nil; i++ {
		at := hr.pos
		hr.skip(hr.u64()) // the name
		nd := hr.u32()
		if nd > maxDims {
			hr.fail(&DamagedError{At: at, Msg: fmt.Sprintf("a tensor of %d dimensions", nd)})
			return
		}
		dims := make([]uint64, nd)
		elems := uint64(1)
		for i := range dims {
			d := hr.u64()
			if d > math.MaxInt64 {
				hr.fail(&DamagedError{At: at, Msg: "a negative tensor dimension"})
				return
			}
			dims[i] = d
			hi, lo := bits.Mul64(elems, d)
			if hi != 0 || lo > math.MaxInt64 {
				hr.fail(&DamagedError{At: at, Msg: "a tensor too large to exist"})
				return
			}
			elems = lo
		}
		typ := hr.u32()
		off := hr.u64()
		if hr.err != nil {
			return
		}
		hr.h.Params, _ = bits.Add64(hr.h.Params, elems, 0)
		size, ok, msg := TensorBytes(typ, dims)
		if msg != "" {
			hr.fail(&DamagedError{At: at, Msg: msg})
			return
		}
		if !ok {
			known = false
			continue
		}
		e, carry := bits.Add64(off, size, 0)
		if carry != 0 || e > math.MaxInt64 {
			hr.fail(&DamagedError{At: at, Msg: "tensor data beyond any file size"})
			return
		}
		end = max(end, e)
		bytesByType[typ] += size
	}
	if hr.err != nil {
		return
	}
	hr.h.InfoEnd = hr.pos
	best := uint64(0)
	for t, b := range bytesByType {
		if b > best || b == best && int64(t) < hr.h.MainType {
			best, hr.h.MainType = b, int64(t)
		}
	}
	switch {
	case !known:
		hr.h.DataEnd = 0
	case n == 0:
		hr.h.DataEnd = hr.pos
	default:
		start := alignUp(uint64(hr.pos), hr.h.Alignment)
		total, carry := bits.Add64(start, end, 0)
		if carry != 0 || total > math.MaxInt64 {
			hr.fail(hr.damaged("tensor data beyond any file size"))
			return
		}
		hr.h.DataEnd = int64(total)
	}
}

func alignUp(n, a uint64) uint64 { return (n + a - 1) / a * a }
