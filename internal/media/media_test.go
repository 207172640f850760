package media

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"io"
	"strings"
	"testing"

	"github.com/agora/agora/internal/apperr"
)

func TestFSKeys(t *testing.T) {
	fs, err := NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, key := range []string{"../escape", "images/../../x", "/abs", `images\x`, ""} {
		if err := fs.Put(ctx, key, strings.NewReader("x"), 1, "image/jpeg"); !errors.Is(err, ErrNotExist) {
			t.Errorf("Put(%q): %v, want refused", key, err)
		}
	}
	if err := fs.Put(ctx, "images/a/1.jpg", strings.NewReader("data"), 4, "image/jpeg"); err != nil {
		t.Fatal(err)
	}
	r, n, err := fs.Get(ctx, "images/a/1.jpg")
	if err != nil || n != 4 {
		t.Fatalf("Get: %d %v", n, err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if string(b) != "data" {
		t.Fatalf("read %q", b)
	}
	if err := fs.Delete(ctx, "images/a/1.jpg", "images/a/missing.jpg"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := fs.Get(ctx, "images/a/1.jpg"); !errors.Is(err, ErrNotExist) {
		t.Fatalf("after Delete: %v", err)
	}
}

// An animated GIF keeps its first frame only.
func TestProcessGIFFirstFrame(t *testing.T) {
	frame := func(c color.Color) *image.Paletted {
		p := image.NewPaletted(image.Rect(0, 0, 300, 100), palette.Plan9)
		for y := range 100 {
			for x := range 300 {
				p.Set(x, y, c)
			}
		}
		return p
	}
	var b bytes.Buffer
	red, blue := color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 255, 255}
	if err := gif.EncodeAll(&b, &gif.GIF{Image: []*image.Paletted{frame(red), frame(blue)}, Delay: []int{10, 10}}); err != nil {
		t.Fatal(err)
	}
	p, err := Process(b.Bytes(), Limits{MaxBytes: 1 << 20, MaxPixels: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Variants) != 3 || p.Variants[2].Width != 300 || p.Variants[2].Height != 100 || p.Color != "#ff0000" {
		t.Fatalf("processed %d variants, full %dx%d, colour %s", len(p.Variants), p.Variants[2].Width, p.Variants[2].Height, p.Color)
	}
	img, err := jpeg.Decode(bytes.NewReader(p.Variants[2].Data))
	if err != nil {
		t.Fatal(err)
	}
	if r, g, bl, _ := img.At(10, 10).RGBA(); r>>8 < 200 || g>>8 > 60 || bl>>8 > 60 {
		t.Fatalf("pixel %d,%d,%d: not the first (red) frame", r>>8, g>>8, bl>>8)
	}
}

// Refusals name their field and, for sizes, the limit.
func TestProcessLimits(t *testing.T) {
	_, err := Process(make([]byte, 11), Limits{MaxBytes: 10, MaxPixels: 10})
	if e, ok := apperr.As(err); !ok || e.Kind != apperr.TooLarge || e.Limit == nil || e.Limit.Name != "maxBytes" || e.Limit.Max != 10 {
		t.Fatalf("over the byte limit: %v", err)
	}
	_, err = Process([]byte("<svg xmlns='http://www.w3.org/2000/svg'/>"), Limits{MaxBytes: 100, MaxPixels: 10})
	if e, ok := apperr.As(err); !ok || e.Kind != apperr.Invalid || e.Field != "file" {
		t.Fatalf("svg: %v", err)
	}
}
