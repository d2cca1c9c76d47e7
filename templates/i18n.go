package templates

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/a-h/templ"
)

// Catalogs are the shipped message catalogs by language tag. English
// (Messages) is complete by definition; every other catalog must hold
// every English key with the same placeholders (i18n_test.go).
//
// Adding a key: add it to Messages (messages.go) and to each of
// messages_de.go, messages_fr.go, messages_nl.go and messages_es.go.
var Catalogs = map[string]map[string]string{
	"en": Messages,
	"de": messagesDE,
	"fr": messagesFR,
	"nl": messagesNL,
	"es": messagesES,
}

// Languages are the shipped languages in the order a language menu lists
// them when the realm does not list its own.
var Languages = []string{"en", "de", "fr", "nl", "es"}

// localeNames are the names a language menu shows, each in its own
// language (Keycloak's locale_xx keys, which every catalog repeats).
var localeNames = map[string]string{
	"en": "English", "de": "Deutsch", "fr": "Français", "nl": "Nederlands", "es": "Español",
	"it": "Italiano", "pt": "Português", "pt-BR": "Português (Brasil)", "pl": "Polski", "cs": "Čeština",
	"da": "Dansk", "sv": "Svenska", "no": "Norsk", "fi": "Suomi", "ja": "日本語", "zh-CN": "中文简体",
	"zh-TW": "中文繁體", "ru": "Русский", "tr": "Türkçe", "uk": "Українська", "ca": "Català", "hu": "Magyar",
	"lt": "Lietuvių", "sk": "Slovenčina", "el": "Ελληνικά", "ar": "عربي", "fa": "فارسی", "ko": "한국어",
}

// LocaleName is how a language menu names tag: its own name for it, else
// the tag itself.
func LocaleName(tag string) string {
	if n, ok := localeNames[tag]; ok {
		return n
	}
	if n, ok := localeNames[baseLang(tag)]; ok && baseLang(tag) != tag {
		return n + " (" + tag + ")"
	}
	return tag
}

// Localizer answers message keys in one language: the realm's own texts
// for it first (Keycloak's localizationTexts), then the shipped catalog
// of the language, of its base language ("de" for "de-CH"), and English.
// The zero value and nil are English without overrides.
type Localizer struct {
	lang      string
	overrides map[string]string // the realm's texts for lang, may be nil
	catalog   map[string]string // shipped catalog for lang or its base; nil = English
}

// NewLocalizer returns the Localizer for language tag lang ("" = "en")
// with the realm's overrides for that language (nil for none). It keeps
// the maps it is given; callers must not change them afterwards.
func NewLocalizer(lang string, overrides map[string]string) *Localizer {
	if lang == "" {
		lang = "en"
	}
	l := &Localizer{lang: lang, overrides: overrides}
	if c, ok := Catalogs[lang]; ok {
		l.catalog = c
	} else if c, ok := Catalogs[baseLang(lang)]; ok {
		l.catalog = c
	}
	return l
}

// Lang is the localizer's language tag ("en" for nil).
func (l *Localizer) Lang() string {
	if l == nil || l.lang == "" {
		return "en"
	}
	return l.lang
}

// Message returns the text for key with {0}, {1}, ... replaced by args.
// An unknown key yields the key itself, as Keycloak's themes do, so a
// missing text is visible rather than blank.
func (l *Localizer) Message(key string, args ...any) string {
	s, ok := "", false
	if l != nil {
		if s, ok = l.overrides[key]; !ok && l.catalog != nil {
			s, ok = l.catalog[key]
		}
	}
	if !ok {
		if s, ok = Messages[key]; !ok {
			return key
		}
	}
	return format(s, args)
}

// format fills Keycloak's positional placeholders {0}, {1}, ...
func format(s string, args []any) string {
	if len(args) == 0 || !strings.Contains(s, "{") {
		return s
	}
	pairs := make([]string, 0, 2*len(args))
	for i, a := range args {
		pairs = append(pairs, "{"+strconv.Itoa(i)+"}", fmt.Sprint(a))
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

type localizerKey struct{}

// WithLocalizer returns ctx carrying l; T and every page rendered with
// the returned context speak l's language.
func WithLocalizer(ctx context.Context, l *Localizer) context.Context {
	return context.WithValue(ctx, localizerKey{}, l)
}

// LocalizerFrom is the Localizer ctx carries, nil (English) if none.
func LocalizerFrom(ctx context.Context) *Localizer {
	l, _ := ctx.Value(localizerKey{}).(*Localizer)
	return l
}

// T is the text for key in the language of ctx (see WithLocalizer; the
// page layout sets it from Page.Loc for everything rendered inside it).
// Templates call it as { T(ctx, "doLogIn") }.
func T(ctx context.Context, key string, args ...any) string {
	return LocalizerFrom(ctx).Message(key, args...)
}

// baseLang is "de" for "de-CH" and "de_CH".
func baseLang(tag string) string {
	if i := strings.IndexAny(tag, "-_"); i > 0 {
		return tag[:i]
	}
	return tag
}

// layout renders layoutFrame with the page's Localizer in the context,
// so T(ctx, ...) in the page's content and the layout speaks it.
func layout(p Page, title string) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		if p.Loc != nil {
			ctx = WithLocalizer(ctx, p.Loc)
		}
		return layoutFrame(p, title).Render(ctx, w)
	})
}
