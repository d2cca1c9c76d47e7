package templates

import (
	"bytes"
	"context"
	"html"
	"strconv"
	"strings"
	"time"
)

// EmailView is what a realm's mail needs: Keycloak's email theme
// arguments ({0} the link, {1} its lifespan in minutes, {2} the realm's
// name, then the formatted lifespan, and for execute-actions the actions).
type EmailView struct {
	Loc       *Localizer // the recipient's language; nil = English
	RealmName string     // display name when set, else the name
	Link      string
	Lifespan  time.Duration
	// Actions are the required actions an execute-actions mail asks for
	// (Keycloak's names: UPDATE_PASSWORD, VERIFY_EMAIL, ...).
	Actions []string
}

// Email is one rendered mail: subject, plain text and HTML.
type Email struct {
	Subject, Text, HTML string
}

// Keycloak's email kinds, by the message key prefix of their texts.
const (
	EmailPasswordReset  = "passwordReset"
	EmailVerification   = "emailVerification"
	EmailExecuteActions = "executeActions"
	EmailTest           = "emailTest"
)

// RenderEmail renders the mail kind (EmailPasswordReset, ...) for v:
// Keycloak's <kind>Subject, <kind>Body (plain text) and <kind>BodyHtml,
// the HTML one inside the mail layout. Every argument is escaped before
// it goes into the HTML text.
func RenderEmail(ctx context.Context, kind string, v EmailView) (Email, error) {
	l := v.Loc
	minutes := int(v.Lifespan / time.Minute)
	expiry := FormatLinkExpiration(l, v.Lifespan)
	args := []any{v.Link, minutes, v.RealmName, expiry}
	if kind == EmailExecuteActions {
		names := make([]string, 0, len(v.Actions))
		for _, a := range v.Actions {
			names = append(names, l.Message("requiredAction."+a))
		}
		args = []any{v.Link, minutes, v.RealmName, strings.Join(names, ", "), expiry}
	}
	escaped := make([]any, len(args))
	for i, a := range args {
		escaped[i] = html.EscapeString(toString(a))
	}
	e := Email{
		Subject: l.Message(kind + "Subject"),
		Text:    l.Message(kind+"Body", args...),
	}
	var buf bytes.Buffer
	body := l.Message(kind+"BodyHtml", escaped...)
	if err := emailLayout(l.Lang(), v.RealmName, body).Render(ctx, &buf); err != nil {
		return Email{}, err
	}
	e.HTML = buf.String()
	return e, nil
}

func toString(a any) string {
	switch x := a.(type) {
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	}
	return ""
}

// FormatLinkExpiration is Keycloak's linkExpirationFormatter: the lifespan
// in the largest whole unit (days, hours, minutes, else seconds), with the
// unit's singular or plural form from the catalog's choice pattern.
func FormatLinkExpiration(l *Localizer, d time.Duration) string {
	secs := int(d / time.Second)
	unit, n := "seconds", secs
	switch {
	case secs > 0 && secs%86400 == 0:
		unit, n = "days", secs/86400
	case secs > 0 && secs%3600 == 0:
		unit, n = "hours", secs/3600
	case secs > 0 && secs%60 == 0:
		unit, n = "minutes", secs/60
	}
	return strconv.Itoa(n) + " " + choice(l.Message("linkExpirationFormatter.timePeriodUnit."+unit), n)
}

// choice reads a Java ChoiceFormat pattern as Keycloak's catalogs hold
// them, "{0,choice,0#minutes|1#minute|1<minutes}", for n; a plain text is
// returned as it is.
func choice(pattern string, n int) string {
	const prefix = "{0,choice,"
	if !strings.HasPrefix(pattern, prefix) || !strings.HasSuffix(pattern, "}") {
		return pattern
	}
	out := ""
	for _, c := range strings.Split(strings.TrimSuffix(strings.TrimPrefix(pattern, prefix), "}"), "|") {
		i := strings.IndexAny(c, "#<")
		if i < 0 {
			continue
		}
		limit, err := strconv.Atoi(c[:i])
		if err != nil {
			continue
		}
		if (c[i] == '#' && n >= limit) || (c[i] == '<' && n > limit) || out == "" {
			out = c[i+1:]
		}
	}
	return out
}
