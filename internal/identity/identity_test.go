package identity

import "testing"

// TestUsernameFrom: a provider's suggestion becomes a valid username candidate (a-z, 0-9, _; 3 to
// 26 characters, leaving room for a number), from the first suggestion that yields one.
func TestUsernameFrom(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want string
	}{
		{[]string{"Ada.Lovelace"}, "ada_lovelace"},
		{[]string{"octo-cat"}, "octo_cat"},
		{[]string{"", "Grace.Hopper@Example.com"}, "grace_hopper"},
		{[]string{"李", "x@example.com", "Ada L"}, "ada_l"},
		{[]string{"__--__"}, "user"},
		{[]string{"a-very-long-username-from-a-provider-that-goes-on"}, "a_very_long_username_from"},
		{nil, "user"},
	} {
		got := usernameFrom(c.in...)
		if got != c.want {
			t.Errorf("usernameFrom(%q) = %q, want %q", c.in, got, c.want)
		}
		if len(got) < 3 || len(got) > 26 {
			t.Errorf("usernameFrom(%q) = %q: length %d", c.in, got, len(got))
		}
	}
}
