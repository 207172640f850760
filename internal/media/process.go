package media

import (
	"bytes"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"net/http"

	"github.com/disintegration/imaging"
	"golang.org/x/image/webp"

	"github.com/agora/agora/internal/apperr"
)

// Limits bound what one image may cost to take in.
type Limits struct {
	MaxBytes  int64 // the file's size
	MaxPixels int64 // width × height, read from the header before anything is decoded
}

// Widths are the sizes made of every image (those narrower than it), besides the full image.
var Widths = []int{64, 256, 1024}

// MaxWidth bounds the full image's stored size: larger images are scaled down to it.
const MaxWidth = 2048

// Variant is one stored size.
type Variant struct {
	Width, Height int
	Data          []byte
}

// Processed is an image decoded and encoded again: no byte of the upload survives, so no
// metadata (EXIF, GPS, comments) and nothing appended to it (a polyglot's second format).
type Processed struct {
	Format   string    // jpeg or png
	Color    string    // dominant colour, #rrggbb
	Variants []Variant // smallest first; the last is the full image
}

// accepted are the formats taken in, by the type http.DetectContentType sniffs from the bytes.
var accepted = map[string]struct {
	name   string
	config func([]byte) (image.Config, error)
}{
	"image/jpeg": {"JPEG", func(b []byte) (image.Config, error) { return jpeg.DecodeConfig(bytes.NewReader(b)) }},
	"image/png":  {"PNG", func(b []byte) (image.Config, error) { return png.DecodeConfig(bytes.NewReader(b)) }},
	"image/gif":  {"GIF", func(b []byte) (image.Config, error) { return gif.DecodeConfig(bytes.NewReader(b)) }},
	"image/webp": {"WebP", func(b []byte) (image.Config, error) { return webp.DecodeConfig(bytes.NewReader(b)) }},
}

// Sniff returns the media type of data, recognised from its content only, or a BAD_USER_INPUT
// refusal naming what is accepted.
func Sniff(data []byte) (string, error) {
	mt := http.DetectContentType(data)
	if _, ok := accepted[mt]; !ok {
		return "", apperr.InvalidField("file", "only JPEG, PNG, GIF and WebP images are accepted (recognised by content, not name); this file is %s", mt)
	}
	return mt, nil
}

// Process checks data against lim and makes its variants. Each refusal is BAD_USER_INPUT or
// PAYLOAD_TOO_LARGE on the field "file", naming the limit.
func Process(data []byte, lim Limits) (*Processed, error) {
	p, full, err := original(data, lim)
	if err != nil {
		return nil, err
	}
	smaller, err := variants(full, p.Format)
	if err != nil {
		return nil, err
	}
	p.Variants = append(smaller, p.Variants...)
	return p, nil
}

// Original checks data against lim like Process but makes the full image only (re-encoded, at
// most MaxWidth wide): the smaller sizes are left to Resize, in a job.
func Original(data []byte, lim Limits) (*Processed, error) {
	p, _, err := original(data, lim)
	return p, err
}

// Resize makes the smaller sizes of a stored full image (what Original made): the same input
// gives the same files, so a job that runs twice writes the same bytes.
func Resize(stored []byte, format string) ([]Variant, error) {
	var (
		img image.Image
		err error
	)
	if format == "png" {
		img, err = png.Decode(bytes.NewReader(stored))
	} else {
		img, err = jpeg.Decode(bytes.NewReader(stored))
	}
	if err != nil {
		return nil, fmt.Errorf("media: stored %s image: %w", format, err)
	}
	return variants(img, format)
}

// original decodes data within lim and encodes its full image, returned also decoded.
func original(data []byte, lim Limits) (*Processed, image.Image, error) {
	if int64(len(data)) > lim.MaxBytes {
		return nil, nil, apperr.OverLimit(apperr.TooLarge, "file", "maxBytes", lim.MaxBytes, "the image is larger than %d bytes", lim.MaxBytes)
	}
	mt, err := Sniff(data)
	if err != nil {
		return nil, nil, err
	}
	kind := accepted[mt]
	// The header's dimensions, before decoding: a small file may declare a huge image.
	cfg, err := kind.config(data)
	if err != nil {
		return nil, nil, apperr.InvalidField("file", "not a readable %s image: %s", kind.name, "its header is damaged or truncated")
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, nil, apperr.InvalidField("file", "the %s image declares no pixels", kind.name)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > lim.MaxPixels {
		return nil, nil, apperr.OverLimit(apperr.TooLarge, "file", "maxPixels", lim.MaxPixels,
			"the image has %d×%d pixels; at most %d pixels are accepted", cfg.Width, cfg.Height, lim.MaxPixels)
	}
	img, err := decode(mt, data)
	if err != nil {
		return nil, nil, apperr.InvalidField("file", "not a readable %s image: the file is damaged or truncated", kind.name)
	}
	b := img.Bounds()
	if int64(b.Dx())*int64(b.Dy()) > lim.MaxPixels { // EXIF rotation keeps the count; anything else is a lie of the header
		return nil, nil, apperr.OverLimit(apperr.TooLarge, "file", "maxPixels", lim.MaxPixels, "the image has more than %d pixels", lim.MaxPixels)
	}
	// WebP and GIF are served as JPEG when opaque, PNG otherwise: the formats every client reads.
	format := "png"
	if mt == "image/jpeg" || opaque(img) {
		format = "jpeg"
	}
	p := &Processed{Format: format, Color: dominant(img)}
	full := img
	if b.Dx() > MaxWidth {
		full = imaging.Resize(img, MaxWidth, 0, imaging.Lanczos)
	}
	v, err := encode(full, format)
	if err != nil {
		return nil, nil, err
	}
	p.Variants = []Variant{v}
	return p, full, nil
}

// variants are the Widths narrower than full, smallest first.
func variants(full image.Image, format string) ([]Variant, error) {
	var out []Variant
	for _, w := range Widths {
		if w < full.Bounds().Dx() {
			v, err := encode(imaging.Resize(full, w, 0, imaging.Lanczos), format)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
	}
	return out, nil
}

// decode decodes with the sniffed format's decoder only. JPEGs are turned upright by their EXIF
// orientation first, since the EXIF that says how goes away.
func decode(mt string, data []byte) (image.Image, error) {
	r := bytes.NewReader(data)
	switch mt {
	case "image/jpeg":
		return imaging.Decode(r, imaging.AutoOrientation(true))
	case "image/png":
		return png.Decode(r)
	case "image/gif":
		return gif.Decode(r) // the first frame
	case "image/webp":
		return webp.Decode(r)
	}
	return nil, fmt.Errorf("media: no decoder for %s", mt)
}

func opaque(img image.Image) bool {
	if o, ok := img.(interface{ Opaque() bool }); ok {
		return o.Opaque()
	}
	return false
}

func encode(img image.Image, format string) (Variant, error) {
	var buf bytes.Buffer
	var err error
	if format == "jpeg" {
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85})
	} else {
		err = (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, img)
	}
	b := img.Bounds()
	return Variant{Width: b.Dx(), Height: b.Dy(), Data: buf.Bytes()}, err
}

// dominant is the image's average colour: a placeholder while it loads.
func dominant(img image.Image) string {
	c := imaging.Resize(img, 1, 1, imaging.Box).NRGBAAt(0, 0)
	return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B)
}

// ContentType of a stored format.
func ContentType(format string) string {
	if format == "png" {
		return "image/png"
	}
	return "image/jpeg"
}
