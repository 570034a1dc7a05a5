package models_test

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/OpenCircuitDev/ocm-tray/internal/gguftest"
	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
	"github.com/OpenCircuitDev/ocm-tray/models"
)

// start begins a v3 header with the given counts.
func start(tensors, keys uint64) *gguftest.Builder {
	var b gguftest.Builder
	b.Raw([]byte(models.Magic))
	b.U32(3)
	b.U64(tensors)
	b.U64(keys)
	return &b
}

// TestReadHeaderHostile feeds headers that claim more than they hold. Each
// must fail with the right error, allocating next to nothing, however big
// the file claims to be.
func TestReadHeaderHostile(t *testing.T) {
	const huge = int64(1) << 50 // the size the "file" claims to have
	for _, tc := range []struct {
		name  string
		build func() *gguftest.Builder
		size  int64 // 0: the header's own length
		err   string
	}{
		{name: "key of 2^62 bytes", build: func() *gguftest.Builder {
			b := start(0, 1)
			b.U64(1 << 62)
			return b
		}, size: huge, err: "a metadata key of"},
		{name: "string value of 2^62 bytes, file shorter", build: func() *gguftest.Builder {
			b := start(0, 1)
			b.Str("k")
			b.U32(gguftest.TypeString)
			b.U64(1 << 62)
			return b
		}, err: "cut short"},
		{name: "string value past the header budget", build: func() *gguftest.Builder {
			b := start(0, 1)
			b.Str("k")
			b.U32(gguftest.TypeString)
			b.U64(1 << 40)
			return b
		}, size: huge, err: "header larger than"},
		{name: "kept string of 2^40 bytes", build: func() *gguftest.Builder {
			b := start(0, 1)
			b.Str("general.name")
			b.U32(gguftest.TypeString)
			b.U64(1 << 40)
			return b
		}, size: huge, err: "header larger than"},
		{name: "2^63 keys", build: func() *gguftest.Builder { return start(0, 1<<63) }, size: huge, err: "metadata keys"},
		{name: "2^40 tensors", build: func() *gguftest.Builder { return start(1<<40, 0) }, size: huge, err: "tensors"},
		{name: "array of 2^61 uint64", build: func() *gguftest.Builder {
			b := start(0, 1)
			b.Str("k")
			b.U32(gguftest.TypeArray)
			b.U32(gguftest.TypeUint64)
			b.U64(1 << 61)
			return b
		}, size: huge, err: "an array of"},
		{name: "array of 2^60 strings", build: func() *gguftest.Builder {
			b := start(0, 1)
			b.Str("k")
			b.U32(gguftest.TypeArray)
			b.U32(gguftest.TypeString)
			b.U64(1 << 60)
			return b
		}, size: huge, err: "cut short"},
		{name: "array of 2^30 strings in a short file", build: func() *gguftest.Builder {
			b := start(0, 1)
			b.Str("k")
			b.U32(gguftest.TypeArray)
			b.U32(gguftest.TypeString)
			b.U64(1 << 30)
			return b
		}, err: "cut short"},
		{name: "array of arrays", build: func() *gguftest.Builder {
			b := start(0, 1)
			b.Str("k")
			b.U32(gguftest.TypeArray)
			b.U32(gguftest.TypeArray)
			b.U64(1)
			return b
		}, size: huge, err: "an array of metadata type 9"},
		{name: "unknown value type", build: func() *gguftest.Builder {
			b := start(0, 1)
			b.Str("k")
			b.U32(77)
			return b
		}, size: huge, err: "unknown metadata type 77"},
		{name: "alignment not a power of two", build: func() *gguftest.Builder {
			b := start(0, 1)
			b.Str("general.alignment")
			b.Value(uint32(48))
			return b
		}, size: huge, err: "not a power of two"},
		{name: "alignment of the wrong type", build: func() *gguftest.Builder {
			b := start(0, 1)
			b.Str("general.alignment")
			b.Value("32")
			return b
		}, size: huge, err: "not a uint32"},
		{name: "five dimensions", build: func() *gguftest.Builder {
			b := start(1, 0)
			b.Str("t")
			b.U32(5)
			return b
		}, size: huge, err: "5 dimensions"},
		{name: "dimensions overflow", build: func() *gguftest.Builder {
			b := start(1, 0)
			b.Str("t")
			b.U32(3)
			b.U64(1 << 40)
			b.U64(1 << 40)
			b.U64(1 << 40)
			return b
		}, size: huge, err: "too large to exist"},
		{name: "negative dimension", build: func() *gguftest.Builder {
			b := start(1, 0)
			b.Str("t")
			b.U32(1)
			b.U64(math.MaxUint64)
			return b
		}, size: huge, err: "negative"},
		{name: "rows not whole blocks", build: func() *gguftest.Builder {
			b := start(1, 0)
			b.Str("t")
			b.U32(1)
			b.U64(100)
			b.U32(gguftest.Q4_K)
			b.U64(0)
			return b
		}, size: huge, err: "no whole number of 256-element blocks"},
		{name: "offset past 2^63", build: func() *gguftest.Builder {
			b := start(1, 0)
			b.Str("t")
			b.U32(1)
			b.U64(8)
			b.U32(gguftest.F32)
			b.U64(math.MaxUint64 - 8)
			return b
		}, size: huge, err: "beyond any file size"},
		{name: "tensor name of 2^62 bytes", build: func() *gguftest.Builder {
			b := start(1, 0)
			b.U64(1 << 62)
			return b
		}, size: huge, err: "cut short"},
		{name: "tensor name past the header budget", build: func() *gguftest.Builder {
			b := start(1, 0)
			b.U64(1 << 40)
			return b
		}, size: huge, err: "header larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.build().Bytes()
			size := tc.size
			if size == 0 {
				size = int64(len(data))
			}
			var err error
			n := testenv.Allocated(func() { _, err = models.ReadHeader(bytes.NewReader(data), size) })
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v, want ~%q", err, tc.err)
			}
			if n > 1<<20 {
				t.Fatalf("allocated %d bytes for a %d-byte header", n, len(data))
			}
		})
	}
}

func TestReadHeaderErrors(t *testing.T) {
	var short *models.ShortError
	if _, err := models.ReadHeader(bytes.NewReader([]byte("GGUF\x03\x00")), 6); !errors.As(err, &short) || short.At != 6 {
		t.Fatalf("cut inside the version: %v", err)
	}
	if _, err := models.ReadHeader(bytes.NewReader([]byte("PK\x03\x04 zip")), 9); !errors.Is(err, models.ErrNotGGUF) {
		t.Fatalf("zip: %v", err)
	}
	// A file that shrinks while it is read (rewritten): the size said more.
	h := gguftest.Tiny().Header()
	if _, err := models.ReadHeader(bytes.NewReader(h[:30]), int64(len(h))); !errors.As(err, &short) || short.At > 30 {
		t.Fatalf("shrunk: %v", err)
	}
}

// FuzzReadHeader: no input panics, hangs or allocates much.
func FuzzReadHeader(f *testing.F) {
	f.Add(gguftest.Tiny().Header())
	f.Add(start(1, 1).Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		n := testenv.Allocated(func() { models.ReadHeader(bytes.NewReader(data), int64(len(data))<<20) })
		if n > 4<<20 {
			t.Fatalf("allocated %d bytes for %d bytes of input", n, len(data))
		}
	})
}
