package server_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/agora/agora/internal/config"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/testenv"
)

// testPNG is an opaque w×h PNG with a gradient (so that its sizes differ).
func testPNG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(x), uint8(y), 128, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// gpsMarker is in the EXIF of testJPEG's file: it must not survive.
const gpsMarker = "AGORA-GPS-48.8584N"

// testJPEG is a w×h JPEG carrying an EXIF APP1 segment with a GPS IFD (latitude 48°51'30"N)
// and a comment naming gpsMarker, as a phone's photo carries where it was taken.
func testJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 3), uint8(y * 5), 90, 255})
		}
	}
	var enc bytes.Buffer
	if err := jpeg.Encode(&enc, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	// TIFF, big-endian: IFD0 at 8 with one entry (GPSInfo → the GPS IFD at 26); the GPS IFD with
	// GPSLatitudeRef "N" and GPSLatitude (three rationals at 56); then the marker.
	var tiff bytes.Buffer
	be := func(v any) { _ = binary.Write(&tiff, binary.BigEndian, v) }
	tiff.WriteString("MM")
	be(uint16(42))
	be(uint32(8))
	be(uint16(1)) // IFD0: one entry
	be(uint16(0x8825))
	be(uint16(4))
	be(uint32(1))
	be(uint32(26)) // GPSInfo, LONG
	be(uint32(0))  // no next IFD
	be(uint16(2))  // GPS IFD at 26: two entries
	be(uint16(1))
	be(uint16(2))
	be(uint32(2))
	tiff.Write([]byte{'N', 0, 0, 0}) // GPSLatitudeRef
	be(uint16(2))
	be(uint16(5))
	be(uint32(3))
	be(uint32(56)) // GPSLatitude
	be(uint32(0))
	for _, r := range [][2]uint32{{48, 1}, {51, 1}, {30, 1}} {
		be(r[0])
		be(r[1])
	}
	tiff.WriteString(gpsMarker)
	app1 := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	var out bytes.Buffer
	out.Write(enc.Bytes()[:2]) // SOI
	out.Write([]byte{0xFF, 0xE1})
	_ = binary.Write(&out, binary.BigEndian, uint16(len(app1)+2))
	out.Write(app1)
	out.Write(enc.Bytes()[2:])
	if !bytes.Contains(out.Bytes(), []byte(gpsMarker)) {
		t.Fatal("fixture lacks its marker")
	}
	if _, err := jpeg.Decode(bytes.NewReader(out.Bytes())); err != nil {
		t.Fatalf("fixture is not a JPEG: %v", err)
	}
	return out.Bytes()
}

// pngDeclaring is a PNG whose header declares w×h pixels, followed by no image data: a
// decompression bomb's header.
func pngDeclaring(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	chunk := append([]byte("IHDR"), ihdr...)
	_ = binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	b.Write(chunk)
	_ = binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

const uploadMutation = `mutation($in: UploadImageInput!) {
  uploadImage(input: $in) { image { id status purpose alt width height color url variants { width height url } } }
}`

type uploaded struct {
	ID, Status, Purpose, Alt, Color, URL string
	Width, Height                        int
	Variants                             []struct {
		Width, Height int
		URL           string
	}
}

// upload sends file as u's image of purpose; it must succeed.
func (a *api) upload(t *testing.T, u user, purpose string, file []byte) uploaded {
	t.Helper()
	r := a.as(u).Upload(t, uploadMutation, map[string]any{"in": map[string]any{"file": nil, "purpose": purpose, "alt": "a test image"}},
		"variables.in.file", "photo.jpg", file)
	if len(r.Errors) > 0 {
		t.Fatalf("upload: %+v", r.Errors)
	}
	var out struct{ UploadImage struct{ Image uploaded } }
	if err := json.Unmarshal(r.Data, &out); err != nil {
		t.Fatal(err)
	}
	return out.UploadImage.Image
}

// image reads image id as u.
func (a *api) image(t *testing.T, u user, id string) uploaded {
	t.Helper()
	var out struct{ Node uploaded }
	a.as(u).Do(t, `query($id: ID!) { node(id: $id) { id ... on Image { status purpose alt width height color url variants { width height url } } } }`,
		map[string]any{"id": id}, &out)
	return out.Node
}

// fetch GETs an image URL from this server (URLs name the configured base address).
func (a *api) fetch(t *testing.T, raw string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, a.srv.URL+u.RequestURI(), nil)
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// files lists the files of the filesystem store.
func (a *api) files(t *testing.T) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(a.cfg.Media.Dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func TestImageUpload(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		una := a.register(t, "una")
		img := a.upload(t, una, "AVATAR", testJPEG(t, 1600, 1200))
		if img.Width != 1600 || img.Height != 1200 || img.Purpose != "AVATAR" || img.Alt != "a test image" || !strings.HasPrefix(img.Color, "#") {
			t.Fatalf("image %+v", img)
		}
		// The request stores the full image only; a job makes the smaller sizes.
		if img.Status != "PROCESSING" || len(img.Variants) != 1 || img.Variants[0].Width != 1600 || len(a.files(t)) != 1 {
			t.Fatalf("before its job: status %s, variants %+v, %d files", img.Status, img.Variants, len(a.files(t)))
		}
		if res, body := a.fetch(t, img.URL, nil); res.StatusCode != 200 || bytes.Contains(body, []byte(gpsMarker)) {
			t.Fatalf("the full image before its job: %d", res.StatusCode)
		}
		a.settle(t)
		img = a.image(t, una, img.ID)
		if img.Status != "READY" {
			t.Fatalf("after its job: status %s", img.Status)
		}
		// A second run (a retry after a crash) writes the same files and changes nothing.
		before := map[string][]byte{}
		for _, f := range a.files(t) {
			before[f], _ = os.ReadFile(f)
		}
		if _, err := a.db.SQL.Exec("UPDATE images SET status = 'PROCESSING', sizes = '[1600]'"); err != nil {
			t.Fatal(err)
		}
		var id int
		if err := a.db.SQL.QueryRow("SELECT id FROM images").Scan(&id); err != nil {
			t.Fatal(err)
		}
		if err := a.images.ResizeImage(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		for _, f := range a.files(t) {
			if b, _ := os.ReadFile(f); !bytes.Equal(b, before[f]) {
				t.Fatalf("%s differs after a second run", f)
			}
		}
		if again := a.image(t, una, img.ID); again.Status != "READY" || len(again.Variants) != 4 {
			t.Fatalf("after a second run: %+v", again)
		}
		var widths []int
		for _, v := range img.Variants {
			widths = append(widths, v.Width)
		}
		if want := []int{64, 256, 1024, 1600}; !equalInts(widths, want) {
			t.Fatalf("variant widths %v, want %v", widths, want)
		}
		if got := len(a.files(t)); got != 4 {
			t.Fatalf("%d stored files, want 4", got)
		}
		var total int
		for _, v := range img.Variants {
			res, body := a.fetch(t, v.URL, nil)
			if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/jpeg" || res.Header.Get("X-Content-Type-Options") != "nosniff" || res.Header.Get("ETag") == "" {
				t.Fatalf("GET %s: %d %v", v.URL, res.StatusCode, res.Header)
			}
			// Not attached yet: only its owner has the (signed) URL, and only their browser caches it.
			if cc := res.Header.Get("Cache-Control"); !strings.HasPrefix(cc, "private, max-age=") {
				t.Fatalf("unattached image Cache-Control %q", cc)
			}
			if bytes.Contains(body, []byte(gpsMarker)) || bytes.Contains(body, []byte("Exif\x00\x00")) {
				t.Fatalf("variant %d keeps the EXIF/GPS metadata", v.Width)
			}
			cfg, err := jpeg.DecodeConfig(bytes.NewReader(body))
			if err != nil || cfg.Width != v.Width || cfg.Height != v.Height {
				t.Fatalf("variant %d: %v %+v, want %dx%d", v.Width, err, cfg, v.Width, v.Height)
			}
			total += len(body)
		}
		// Storage use is the viewer's own business, and counts every file.
		var st struct {
			Viewer struct {
				ImageStorage struct{ UsedBytes, LimitBytes int }
			}
		}
		a.as(una).Do(t, `{ viewer { imageStorage { usedBytes limitBytes } } }`, nil, &st)
		if st.Viewer.ImageStorage.UsedBytes != total || st.Viewer.ImageStorage.LimitBytes != int(a.cfg.Media.QuotaBytes) {
			t.Fatalf("imageStorage %+v, want used %d", st.Viewer.ImageStorage, total)
		}
		// Made the avatar: public, permanent, cacheable by anyone.
		var prof struct {
			UpdateProfile struct{ User struct{ AvatarURL string } }
		}
		a.as(una).Do(t, `mutation($id: ID!) { updateProfile(input: {avatarImageID: $id}) { user { avatarURL } } }`, map[string]any{"id": img.ID}, &prof)
		avatar := prof.UpdateProfile.User.AvatarURL
		if !strings.Contains(avatar, "/media/images/") || strings.Contains(avatar, "sig=") || !strings.HasSuffix(avatar, "/256.jpg") {
			t.Fatalf("avatarURL %q", avatar)
		}
		res, _ := a.fetch(t, avatar, nil)
		if res.StatusCode != 200 || res.Header.Get("Cache-Control") != "public, max-age=31536000, s-maxage=600, immutable" {
			t.Fatalf("avatar: %d %v", res.StatusCode, res.Header)
		}
		res, _ = a.fetch(t, avatar, http.Header{"If-None-Match": {res.Header.Get("ETag")}})
		if res.StatusCode != http.StatusNotModified {
			t.Fatalf("If-None-Match: %d, want 304", res.StatusCode)
		}
		// A new avatar releases the old one, which the clean-up then deletes with its files.
		second := a.upload(t, una, "AVATAR", testPNG(t, 300, 200))
		a.as(una).Do(t, `mutation($id: ID!) { updateProfile(input: {avatarImageID: $id}) { user { avatarURL } } }`, map[string]any{"id": second.ID}, nil)
		a.settle(t) // its media_delete job, inserted with the profile's change
		if res, _ := a.fetch(t, avatar, nil); res.StatusCode != http.StatusNotFound {
			t.Fatalf("replaced avatar: %d, want 404", res.StatusCode)
		}
		if got := len(a.files(t)); got != 3 { // the PNG: 64, 256 and 300 wide
			t.Fatalf("%d files after the sweep, want 3", got)
		}
		// An image never attached goes after a day.
		a.upload(t, una, "POST_INLINE", testPNG(t, 50, 50))
		if n, _ := a.images.Sweep(context.Background()); n != 0 {
			t.Fatalf("a fresh unattached image was swept")
		}
		if _, err := a.db.SQL.Exec("UPDATE images SET created_at = $1 WHERE attached_at IS NULL", time.Now().Add(-25*time.Hour).UTC()); err != nil {
			t.Fatal(err)
		}
		if n, _ := a.images.Sweep(context.Background()); n != 1 || a.count(t, "images") != 1 {
			t.Fatalf("unattached image after a day: swept %d, %d rows left", n, a.count(t, "images"))
		}
	})
}

func equalInts(a, b []int) bool {
	return len(a) == len(b) && string(intsKey(a)) == string(intsKey(b))
}

func intsKey(v []int) []byte {
	var b []byte
	for _, n := range v {
		b = binary.BigEndian.AppendUint32(b, uint32(n))
	}
	return b
}

func TestImageRefusals(t *testing.T) {
	a := newAPIWith(t, func(cfg *config.Config) {
		cfg.Media.MaxBytes = 1 << 20
		cfg.Media.MaxPixels = 4_000_000
		cfg.Media.QuotaBytes = 40_000
		cfg.Media.UploadsPerUser = config.Budget{Burst: 20, Per: time.Hour}
	})
	una := a.register(t, "una")
	jpg := testJPEG(t, 200, 100)
	truncated := jpg[:len(jpg)/2]
	big := append(testJPEG(t, 64, 64), bytes.Repeat([]byte{0}, 1<<20)...) // past 1 MiB, within the request's limit
	zip := append([]byte("PK\x03\x04\x14\x00\x00\x00\x08\x00"), bytes.Repeat([]byte("zip"), 100)...)
	svg := []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>`)
	htmlFirst := append([]byte("<html><script>alert(1)</script></html>"), jpg...)
	gifText := []byte("GIF89a\x01\x00\x01\x00<script>alert(1)</script>")
	cases := []struct {
		name, file  string
		content     []byte
		code, limit string
	}{
		{"pixel bomb", "bomb.png", pngDeclaring(100_000, 100_000), "PAYLOAD_TOO_LARGE", "maxPixels"},
		{"zip named .jpg", "photo.jpg", zip, "BAD_USER_INPUT", ""},
		{"svg with script", "logo.svg", svg, "BAD_USER_INPUT", ""},
		{"html before a jpeg", "photo.jpg", htmlFirst, "BAD_USER_INPUT", ""},
		{"truncated jpeg", "photo.jpg", truncated, "BAD_USER_INPUT", ""},
		{"gif header, script body", "a.gif", gifText, "BAD_USER_INPUT", ""},
		{"over the byte limit", "big.jpg", big, "PAYLOAD_TOO_LARGE", "maxBytes"},
		{"empty", "empty.png", nil, "BAD_USER_INPUT", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := a.as(una).Upload(t, uploadMutation, map[string]any{"in": map[string]any{"file": nil, "purpose": "AVATAR"}}, "variables.in.file", c.file, c.content)
			if len(r.Errors) != 1 || r.Errors[0].Code() != c.code || r.Errors[0].Field() != "file" {
				t.Fatalf("want one %s on file, got %+v", c.code, r.Errors)
			}
			if c.limit != "" && r.Errors[0].Extensions["limit"] != c.limit {
				t.Fatalf("limit %v, want %s", r.Errors[0].Extensions["limit"], c.limit)
			}
		})
	}
	if n := a.count(t, "images"); n != 0 || len(a.files(t)) != 0 {
		t.Fatalf("refusals stored %d images, %d files", n, len(a.files(t)))
	}
	t.Run("50 MB", func(t *testing.T) {
		r := a.as(una).Upload(t, uploadMutation, map[string]any{"in": map[string]any{"file": nil, "purpose": "AVATAR"}}, "variables.in.file", "huge.jpg", make([]byte, 50<<20))
		if r.Status != http.StatusRequestEntityTooLarge || len(r.Errors) != 1 || r.Errors[0].Code() != "PAYLOAD_TOO_LARGE" || r.Errors[0].Extensions["limit"] != "maxBytes" {
			t.Fatalf("want 413 PAYLOAD_TOO_LARGE, got %d %+v", r.Status, r.Errors)
		}
	})
	t.Run("no preflight header", func(t *testing.T) {
		r := a.as(una).UploadWith(t, uploadMutation, map[string]any{"in": map[string]any{"file": nil, "purpose": "AVATAR"}}, "variables.in.file", "a.jpg", jpg, nil)
		if r.Status != http.StatusBadRequest || len(r.Errors) != 1 || r.Errors[0].Code() != "CSRF_PREVENTED" {
			t.Fatalf("want 400 CSRF_PREVENTED, got %d %+v", r.Status, r.Errors)
		}
	})
	t.Run("polyglot re-encoded", func(t *testing.T) {
		// A JPEG with an HTML page after its end: a valid image, stored without the page.
		img := a.upload(t, una, "AVATAR", append(testJPEG(t, 120, 80), []byte("<html><script>alert(1)</script></html>")...))
		for _, v := range img.Variants {
			if _, body := a.fetch(t, v.URL, nil); bytes.Contains(body, []byte("<script>")) {
				t.Fatal("the appended page survived")
			}
		}
	})
	t.Run("storage quota", func(t *testing.T) {
		var r testenv.Response
		for range 10 {
			r = a.as(una).Upload(t, uploadMutation, map[string]any{"in": map[string]any{"file": nil, "purpose": "AVATAR"}}, "variables.in.file", "n.png", testPNG(t, 256, 256))
			if len(r.Errors) > 0 {
				break
			}
		}
		if len(r.Errors) != 1 || r.Errors[0].Code() != "PAYLOAD_TOO_LARGE" || r.Errors[0].Extensions["limit"] != "storageQuotaBytes" {
			t.Fatalf("want PAYLOAD_TOO_LARGE storageQuotaBytes, got %+v", r.Errors)
		}
	})
	t.Run("uploads per hour", func(t *testing.T) {
		otto := a.register(t, "otto")
		var r testenv.Response
		for range 21 {
			if r = a.as(otto).Upload(t, uploadMutation, map[string]any{"in": map[string]any{"file": nil, "purpose": "AVATAR"}}, "variables.in.file", "z.zip", zip); r.Errors[0].Code() == "RATE_LIMITED" {
				break
			}
		}
		if r.Errors[0].Code() != "RATE_LIMITED" {
			t.Fatalf("want RATE_LIMITED after 20 uploads, got %+v", r.Errors)
		}
	})
}

// newAPIWith starts Agora on SQLite with the test configuration changed by configure.
func newAPIWith(t *testing.T, configure func(*config.Config)) *api {
	t.Helper()
	db := openDB(t, database.Options{SQLitePath: filepath.Join(t.TempDir(), "agora.db")})
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return startAPIWith(t, db, nil, configure)
}

func TestImagePrivacy(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		una, otto, mona := a.register(t, "una"), a.register(t, "otto"), a.register(t, "mona")
		a.setRole(t, mona, "MODERATOR")
		cover := a.upload(t, una, "POST_COVER", testPNG(t, 400, 300))
		var created struct {
			CreatePost struct {
				Post struct {
					ID, Slug string
					Cover    struct{ ID, URL string }
				}
			}
		}
		a.as(una).Do(t, `mutation($c: ID!) { createPost(input: {title: "Draft", coverImageID: $c}) { post { id slug cover { id url } } } }`,
			map[string]any{"c": cover.ID}, &created)
		p := created.CreatePost.Post
		if p.Cover.ID != cover.ID || !strings.Contains(p.Cover.URL, "sig=") {
			t.Fatalf("draft's cover %+v: want a signed URL", p.Cover)
		}
		// Another user sees neither the draft, nor its cover, nor its files without the signature.
		const q = `query($id: ID!) { image(id: $id) { id } }`
		var seen struct{ Image *struct{ ID string } }
		a.as(otto).Do(t, q, map[string]any{"id": cover.ID}, &seen)
		if seen.Image != nil {
			t.Fatal("another user reads a draft's cover")
		}
		unsigned := strings.SplitN(p.Cover.URL, "?", 2)[0]
		if res, _ := a.fetch(t, unsigned, nil); res.StatusCode != http.StatusNotFound {
			t.Fatalf("draft cover without signature: %d, want 404", res.StatusCode)
		}
		if res, _ := a.fetch(t, p.Cover.URL+"0", nil); res.StatusCode != http.StatusNotFound {
			t.Fatalf("draft cover with a bad signature: %d, want 404", res.StatusCode)
		}
		if res, _ := a.fetch(t, p.Cover.URL, nil); res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Cache-Control"), "private") {
			t.Fatalf("draft cover with its signed URL: %d %q", res.StatusCode, res.Header.Get("Cache-Control"))
		}
		// Published: public to anyone, anonymous included.
		a.as(una).Do(t, `mutation($id: ID!) { publishPost(input: {id: $id}) { post { id } } }`, map[string]any{"id": p.ID}, nil)
		var pub struct {
			Post struct{ Cover struct{ URL string } }
		}
		a.Do(t, `query($s: String!) { post(slug: $s) { cover { url } } }`, map[string]any{"s": p.Slug}, &pub)
		if pub.Post.Cover.URL != unsigned {
			t.Fatalf("published cover URL %q, want %q", pub.Post.Cover.URL, unsigned)
		}
		res, _ := a.fetch(t, unsigned, nil)
		if want := "public, max-age=31536000, s-maxage=600, immutable"; res.StatusCode != 200 || res.Header.Get("Cache-Control") != want {
			t.Fatalf("published cover: %d %q, want %q", res.StatusCode, res.Header.Get("Cache-Control"), want)
		}
		etag := res.Header.Get("ETag")
		// Hidden by a moderator: only its owner and moderators. A CDN asking again after
		// s-maxage (If-None-Match) is told it is gone, not that its copy is still good.
		a.as(otto).Fail(t, "FORBIDDEN", "", `mutation($id: ID!) { hideImage(input: {id: $id}) { image { id } } }`, map[string]any{"id": cover.ID})
		a.as(mona).Do(t, `mutation($id: ID!) { hideImage(input: {id: $id}) { image { id } } }`, map[string]any{"id": cover.ID}, nil)
		for _, h := range []http.Header{nil, {"If-None-Match": {etag}}} {
			if res, _ := a.fetch(t, unsigned, h); res.StatusCode != http.StatusNotFound || res.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("hidden image (%v): %d %q, want 404 no-store", h, res.StatusCode, res.Header.Get("Cache-Control"))
			}
		}
		a.as(otto).Do(t, q, map[string]any{"id": cover.ID}, &seen)
		if seen.Image != nil {
			t.Fatal("another user reads a hidden image")
		}
		// Someone else's image is no cover of mine.
		mine := a.upload(t, otto, "POST_COVER", testPNG(t, 100, 100))
		a.as(una).Fail(t, "NOT_FOUND", "coverImageID", `mutation($c: ID!) { createPost(input: {title: "x", coverImageID: $c}) { post { id } } }`, map[string]any{"c": mine.ID})
		// A deleted post's images are deleted by the media_delete job inserted with the deletion:
		// every size (64, 256 and 400 wide) and the row.
		a.settle(t)
		files, rows := len(a.files(t)), a.count(t, "images")
		a.as(una).Do(t, `mutation($id: ID!) { deletePost(input: {id: $id}) { deletedPostID } }`, map[string]any{"id": p.ID}, nil)
		a.settle(t)
		if got := len(a.files(t)); got != files-3 || a.count(t, "images") != rows-1 {
			t.Fatalf("files %d → %d, rows %d → %d: the deleted post's cover is still stored", files, got, rows, a.count(t, "images"))
		}
		// A draft's inline image is the draft's: another user reads neither it nor its file.
		draftInline := a.upload(t, una, "POST_INLINE", testPNG(t, 80, 60))
		a.as(una).Do(t, `mutation($b: String!) { createPost(input: {title: "Draft inline", body: $b}) { post { id } } }`,
			map[string]any{"b": "![x](" + strings.SplitN(draftInline.URL, "?", 2)[0] + ")"}, nil)
		a.as(otto).Do(t, q, map[string]any{"id": draftInline.ID}, &seen)
		if seen.Image != nil {
			t.Fatal("another user reads a draft's inline image")
		}
		if res, _ := a.fetch(t, strings.SplitN(draftInline.URL, "?", 2)[0], nil); res.StatusCode != http.StatusNotFound {
			t.Fatalf("a draft's inline image without signature: %d, want 404", res.StatusCode)
		}
		// A body shows an inline image by its URL, which attaches it to the post: public once the
		// post is; removed from the body, it is deleted.
		inline := a.upload(t, una, "POST_INLINE", testPNG(t, 120, 90))
		src := strings.SplitN(inline.URL, "?", 2)[0]
		var ip struct {
			CreatePost struct{ Post struct{ ID string } }
		}
		a.as(una).Do(t, `mutation($b: String!) { createPost(input: {title: "Inline", body: $b, publish: true}) { post { id } } }`,
			map[string]any{"b": "A chart:\n\n![chart](" + src + ")\n"}, &ip)
		if res, _ := a.fetch(t, src, nil); res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Cache-Control"), "public") {
			t.Fatalf("inline image of a published post: %d", res.StatusCode)
		}
		res, _ = a.fetch(t, src, nil)
		// Made members-only, the body's image is its readers' too: a CDN asking again is told it is gone.
		a.as(una).Do(t, `mutation($id: ID!) { updatePost(input: {id: $id, visibility: MEMBERS}) { post { id } } }`, map[string]any{"id": ip.CreatePost.Post.ID}, nil)
		if res, _ := a.fetch(t, src, http.Header{"If-None-Match": {res.Header.Get("ETag")}}); res.StatusCode != http.StatusNotFound {
			t.Fatalf("inline image of a post made members-only, asked again: %d, want 404", res.StatusCode)
		}
		a.as(una).Do(t, `mutation($id: ID!) { updatePost(input: {id: $id, body: "No chart."}) { post { id } } }`, map[string]any{"id": ip.CreatePost.Post.ID}, nil)
		a.settle(t)
		if res, _ := a.fetch(t, src, nil); res.StatusCode != http.StatusNotFound {
			t.Fatalf("inline image removed from the body: %d, want 404", res.StatusCode)
		}
	})
}

// newS3API serves Agora with its images in a bucket of an S3-protocol server (gofakes3), whose
// backend it returns with it.
func newS3API(t *testing.T, opts ...s3mem.Option) (*api, *s3mem.Backend) {
	t.Helper()
	backend := s3mem.New(opts...)
	fake := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(fake.Close)
	if err := backend.CreateBucket("agora-media"); err != nil {
		t.Fatal(err)
	}
	a := newAPIWith(t, func(cfg *config.Config) {
		cfg.Media.StorageURL = "s3://agora-media?region=us-east-1&path_style=true&endpoint=" + url.QueryEscape(fake.URL)
		cfg.Media.AccessKey, cfg.Media.SecretKey = "test-access-key", "test-secret-key"
	})
	return a, backend
}

// bucketKeys lists the keys in the bucket of newS3API.
func bucketKeys(t *testing.T, backend *s3mem.Backend) []string {
	t.Helper()
	list, err := backend.ListBucket("agora-media", &gofakes3.Prefix{}, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range list.Contents {
		keys = append(keys, o.Key)
	}
	return keys
}

// putDirect starts a direct upload of file as u and PUTs it to its presigned URL; it returns the
// upload's ID.
func (a *api) putDirect(t *testing.T, u user, file []byte, purpose string) string {
	t.Helper()
	var start struct {
		CreateImageUpload struct{ UploadID, URL string }
	}
	a.as(u).Do(t, `mutation($n: Int!, $p: ImagePurpose!) { createImageUpload(input: {size: $n, purpose: $p, alt: "direct"}) { uploadID url expiresAt } }`,
		map[string]any{"n": len(file), "p": purpose}, &start)
	if !strings.Contains(start.CreateImageUpload.URL, "X-Amz-Signature=") {
		t.Fatalf("upload URL %q is not presigned", start.CreateImageUpload.URL)
	}
	req, _ := http.NewRequest(http.MethodPut, start.CreateImageUpload.URL, bytes.NewReader(file))
	put, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	put.Body.Close()
	if put.StatusCode != 200 {
		t.Fatalf("PUT to the presigned URL: %d", put.StatusCode)
	}
	return start.CreateImageUpload.UploadID
}

func TestImageS3(t *testing.T) {
	a, backend := newS3API(t)
	una := a.register(t, "una")
	objects := func() []string { return bucketKeys(t, backend) }
	img := a.upload(t, una, "AVATAR", testJPEG(t, 300, 200))
	if keys := objects(); len(keys) != 1 || !strings.HasPrefix(keys[0], "images/") {
		t.Fatalf("objects %v, want the full image under images/ before its job", keys)
	}
	a.settle(t)
	if keys := objects(); len(keys) != 3 {
		t.Fatalf("objects %v, want 3 sizes after its job", keys)
	}
	res, body := a.fetch(t, img.URL, nil)
	if res.StatusCode != 200 || bytes.Contains(body, []byte(gpsMarker)) || res.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("GET from S3: %d, GPS kept: %t", res.StatusCode, bytes.Contains(body, []byte(gpsMarker)))
	}

	// Direct upload: a presigned PUT to the store, then completeImageUpload.
	uploadID := a.putDirect(t, una, testJPEG(t, 500, 400), "POST_COVER")
	// Someone else cannot complete it.
	otto := a.register(t, "otto")
	a.as(otto).Fail(t, "BAD_USER_INPUT", "uploadID", `mutation($id: String!) { completeImageUpload(input: {uploadID: $id}) { image { id } } }`,
		map[string]any{"id": uploadID})
	var done struct {
		CompleteImageUpload struct{ Image uploaded }
	}
	a.as(una).Do(t, `mutation($id: String!) { completeImageUpload(input: {uploadID: $id}) { image { id width height alt url variants { width height url } } } }`,
		map[string]any{"id": uploadID}, &done)
	a.settle(t)
	if got := a.image(t, una, done.CompleteImageUpload.Image.ID); got.Width != 500 || got.Height != 400 || got.Alt != "direct" || got.Status != "READY" || len(got.Variants) != 3 {
		t.Fatalf("direct upload: %+v", got)
	}
	// A deleted post's images leave the bucket with the job its deletion inserted.
	var post struct {
		CreatePost struct{ Post struct{ ID string } }
	}
	a.as(una).Do(t, `mutation($c: ID!) { createPost(input: {title: "On S3", coverImageID: $c}) { post { id } } }`,
		map[string]any{"c": done.CompleteImageUpload.Image.ID}, &post)
	before := len(objects())
	a.as(una).Do(t, `mutation($id: ID!) { deletePost(input: {id: $id}) { deletedPostID } }`, map[string]any{"id": post.CreatePost.Post.ID}, nil)
	a.settle(t)
	if after := len(objects()); after != before-3 {
		t.Fatalf("objects %d → %d: the deleted post's cover (3 sizes) is still in the bucket", before, after)
	}
	for _, k := range objects() {
		if strings.HasPrefix(k, "incoming/") {
			t.Fatalf("the incoming file %s was not deleted", k)
		}
	}
	// Too large for the limit: refused before any URL is signed.
	r := a.as(una).Post(t, `mutation($n: Int!) { createImageUpload(input: {size: $n, purpose: AVATAR}) { uploadID } }`, map[string]any{"n": a.cfg.Media.MaxBytes + 1})
	if len(r.Errors) != 1 || r.Errors[0].Code() != "PAYLOAD_TOO_LARGE" || r.Errors[0].Extensions["limit"] != "maxBytes" {
		t.Fatalf("oversized direct upload: %+v", r.Errors)
	}
}

// TestImageSweepJob: with AGORA_MEDIA_SWEEP_INTERVAL set, the periodic job deletes a replaced
// avatar and its files without anyone calling Sweep.
func TestImageSweepJob(t *testing.T) {
	db := openDB(t, database.Options{SQLitePath: filepath.Join(t.TempDir(), "agora.db")})
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	a := startAPIWith(t, db, nil, func(cfg *config.Config) { cfg.Media.SweepInterval = 200 * time.Millisecond })
	una := a.register(t, "una")
	first := a.upload(t, una, "AVATAR", testPNG(t, 300, 200))
	a.as(una).Do(t, `mutation($id: ID!) { updateProfile(input: {avatarImageID: $id}) { user { id } } }`, map[string]any{"id": first.ID}, nil)
	second := a.upload(t, una, "AVATAR", testPNG(t, 300, 200))
	a.as(una).Do(t, `mutation($id: ID!) { updateProfile(input: {avatarImageID: $id}) { user { id } } }`, map[string]any{"id": second.ID}, nil)
	deadline := time.Now().Add(30 * time.Second)
	for a.count(t, "images") != 1 || len(a.files(t)) != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the sweep job left %d images and %d files, want 1 and 3", a.count(t, "images"), len(a.files(t)))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestImageSweepIncoming: the sweep deletes the files of direct uploads never completed once no
// completion may take them any more (twice the upload URL's life), and keeps fresh ones.
func TestImageSweepIncoming(t *testing.T) {
	a := newAPIWith(t, func(*config.Config) {})
	dir := filepath.Join(a.cfg.Media.Dir, "incoming")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	stale, fresh := filepath.Join(dir, "stale"), filepath.Join(dir, "fresh")
	for _, f := range []string{stale, fresh} {
		if err := os.WriteFile(f, []byte("partial upload"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := a.images.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("the stale upload is still stored: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Fatalf("a fresh upload was deleted: %v", err)
	}
}

// TestImageWebP: a WebP upload is decoded and stored re-encoded as JPEG (it is opaque), the format
// every client reads; a transparent one would be PNG.
func TestImageWebP(t *testing.T) {
	a := newAPIWith(t, func(*config.Config) {})
	una := a.register(t, "una")
	file, err := os.ReadFile("testdata/photo.webp") // from golang.org/x/image's test data
	if err != nil {
		t.Fatal(err)
	}
	img := a.upload(t, una, "POST_INLINE", file)
	a.settle(t)
	img = a.image(t, una, img.ID)
	if img.Status != "READY" || len(img.Variants) < 2 {
		t.Fatalf("webp: %+v", img)
	}
	for _, v := range img.Variants {
		res, body := a.fetch(t, v.URL, nil)
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(body))
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/jpeg" || err != nil || cfg.Width != v.Width {
			t.Fatalf("variant %d: %d %q %v %+v", v.Width, res.StatusCode, res.Header.Get("Content-Type"), err, cfg)
		}
	}
}

// TestImageSharedMaxAge: AGORA_MEDIA_SHARED_MAX_AGE is the s-maxage of public files (0: a CDN asks
// every time); browsers keep them a year either way.
func TestImageSharedMaxAge(t *testing.T) {
	a := newAPIWith(t, func(cfg *config.Config) { cfg.Media.SharedMaxAge = 0 })
	una := a.register(t, "una")
	img := a.upload(t, una, "AVATAR", testPNG(t, 100, 100))
	var prof struct {
		UpdateProfile struct{ User struct{ AvatarURL string } }
	}
	a.as(una).Do(t, `mutation($id: ID!) { updateProfile(input: {avatarImageID: $id}) { user { avatarURL } } }`, map[string]any{"id": img.ID}, &prof)
	res, _ := a.fetch(t, prof.UpdateProfile.User.AvatarURL, nil)
	if want := "public, max-age=31536000, s-maxage=0, immutable"; res.StatusCode != 200 || res.Header.Get("Cache-Control") != want {
		t.Fatalf("avatar: %d %q, want %q", res.StatusCode, res.Header.Get("Cache-Control"), want)
	}
}

// TestImageSweepIncomingS3: on an S3 store, the sweep deletes the files of direct uploads never
// completed once they are older than twice the upload URL's lifetime (by the bucket's
// LastModified), and leaves younger ones.
func TestImageSweepIncomingS3(t *testing.T) {
	clock := gofakes3.FixedTimeSource(time.Now().Add(-time.Hour)) // the bucket's: when objects were written
	a, backend := newS3API(t, s3mem.WithTimeSource(clock))
	una := a.register(t, "una")
	incoming := func() []string {
		var keys []string
		for _, k := range bucketKeys(t, backend) {
			if strings.HasPrefix(k, "incoming/") {
				keys = append(keys, k)
			}
		}
		return keys
	}
	a.putDirect(t, una, testJPEG(t, 50, 50), "POST_COVER") // written an hour ago: past twice the URL's 15 minutes
	stale := incoming()
	clock.Advance(time.Hour)
	a.putDirect(t, una, testJPEG(t, 50, 50), "POST_COVER") // written now
	if len(stale) != 1 || len(incoming()) != 2 {
		t.Fatalf("incoming files %v, then %v", stale, incoming())
	}
	if _, err := a.images.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if left := incoming(); len(left) != 1 || left[0] == stale[0] {
		t.Fatalf("after the sweep: %v, want the fresh upload only (the stale one was %s)", left, stale[0])
	}
}
