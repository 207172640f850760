package auth

import (
	"testing"
	"time"
)

func TestPasswordRoundTrip(t *testing.T) {
	h, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := CheckPassword(h, "correct horse"); !ok || err != nil {
		t.Fatalf("the right password: %t %v", ok, err)
	}
	if ok, _ := CheckPassword(h, "wrong horse"); ok {
		t.Fatal("a wrong password matched")
	}
	if _, err := CheckPassword("$argon2id$v=19$bad", "x"); err == nil {
		t.Fatal("a malformed hash was accepted")
	}
}

// TestPasswordHashingBounded: with every hashing slot taken, a check waits for one instead of
// taking its 19 MiB beside the others.
func TestPasswordHashingBounded(t *testing.T) {
	h, err := HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	for range cap(hashing) {
		hashing <- struct{}{}
	}
	done := make(chan bool)
	go func() { ok, _ := CheckPassword(h, "pw"); done <- ok }()
	select {
	case <-done:
		t.Fatal("a check ran with every slot taken")
	case <-time.After(100 * time.Millisecond):
	}
	for range cap(hashing) {
		<-hashing
	}
	if !<-done {
		t.Fatal("the check failed once a slot was free")
	}
}
