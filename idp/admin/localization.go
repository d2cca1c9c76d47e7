package admin

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/keygate/keygate/idp/rep"
)

// The realm's own texts (Keycloak's RealmLocalizationResource under
// /admin/realms/{realm}/localization): they override the shipped message
// catalogs on the realm's pages. They live in the realm's settings as
// "localizationTexts" (locale -> key -> text), as in a realm export.

const (
	maxLocalizationTexts = 4096     // keys per locale
	maxLocalizationText  = 16 << 10 // bytes per text
)

// realmTexts is the decoded realm and its texts.
func (c *call) realmTexts() (rep.Realm, error) {
	r, _, err := rep.DecodeRealm(c.realm)
	return r, err
}

// saveTexts stores r (with changed texts).
func (a *API) saveTexts(c *call, r rep.Realm) error {
	row, err := rep.RealmToStore(r)
	if err != nil {
		return err
	}
	row.Created = c.realm.Created
	if err := a.st.UpdateRealm(c.ctx, row); err != nil {
		return err
	}
	c.realm = row
	return nil
}

// locale is the {locale} path value: a language tag ("de", "pt-BR",
// "zh_CN"), else 400.
func (c *call) locale() (string, error) {
	l := c.r.PathValue("locale")
	if l == "" || len(l) > 35 || strings.Trim(l, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
		return "", badRequest("Invalid locale")
	}
	return l, nil
}

// GET /localization: the locales the realm has texts for.
func (a *API) localizationLocales(c *call) error {
	r, err := c.realmTexts()
	if err != nil {
		return err
	}
	out := slices.Sorted(maps.Keys(r.LocalizationTexts))
	if out == nil {
		out = []string{}
	}
	return c.ok(out)
}

// GET /localization/{locale}: the locale's texts ({} when none).
func (a *API) localizationTexts(c *call) error {
	l, err := c.locale()
	if err != nil {
		return err
	}
	r, err := c.realmTexts()
	if err != nil {
		return err
	}
	texts := r.LocalizationTexts[l]
	if texts == nil {
		texts = map[string]string{}
	}
	return c.ok(texts)
}

// POST (Keycloak) or PUT /localization/{locale}: a JSON object of texts
// merged into the locale's (Keycloak's import of a messages file).
func (a *API) importLocalizationTexts(c *call) error {
	l, err := c.locale()
	if err != nil {
		return err
	}
	data, err := c.read(maxBody)
	if err != nil {
		return err
	}
	var in map[string]string
	if err := json.Unmarshal(data, &in); err != nil {
		return badRequest("Invalid JSON body: an object of texts by key is expected")
	}
	for k, v := range in {
		if err := checkText(k, v); err != nil {
			return err
		}
	}
	r, err := c.realmTexts()
	if err != nil {
		return err
	}
	if r.LocalizationTexts == nil {
		r.LocalizationTexts = map[string]map[string]string{}
	}
	texts := maps.Clone(r.LocalizationTexts[l])
	if texts == nil {
		texts = map[string]string{}
	}
	maps.Copy(texts, in)
	if len(texts) > maxLocalizationTexts {
		return badRequest("Too many texts for one locale")
	}
	r.LocalizationTexts[l] = texts
	if err := a.saveTexts(c, r); err != nil {
		return err
	}
	return c.noContent()
}

// DELETE /localization/{locale}: every text of the locale.
func (a *API) deleteLocalizationTexts(c *call) error {
	l, err := c.locale()
	if err != nil {
		return err
	}
	r, err := c.realmTexts()
	if err != nil {
		return err
	}
	if _, ok := r.LocalizationTexts[l]; !ok {
		return notFound("No localization texts for locale " + l + " found.")
	}
	delete(r.LocalizationTexts, l)
	if err := a.saveTexts(c, r); err != nil {
		return err
	}
	return c.noContent()
}

// GET /localization/{locale}/{key}: one text, text/plain.
func (a *API) localizationText(c *call) error {
	l, err := c.locale()
	if err != nil {
		return err
	}
	r, err := c.realmTexts()
	if err != nil {
		return err
	}
	v, ok := r.LocalizationTexts[l][c.r.PathValue("key")]
	if !ok {
		return notFound("Localization text not found")
	}
	c.w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	c.w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(c.w, v)
	return nil
}

// PUT /localization/{locale}/{key}: one text, the body as text/plain.
func (a *API) putLocalizationText(c *call) error {
	l, err := c.locale()
	if err != nil {
		return err
	}
	key := c.r.PathValue("key")
	data, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, maxLocalizationText+1))
	if err != nil {
		return badRequest("Text too long")
	}
	if err := checkText(key, string(data)); err != nil {
		return err
	}
	c.bodyRead = data
	r, err := c.realmTexts()
	if err != nil {
		return err
	}
	if r.LocalizationTexts == nil {
		r.LocalizationTexts = map[string]map[string]string{}
	}
	texts := maps.Clone(r.LocalizationTexts[l])
	if texts == nil {
		texts = map[string]string{}
	}
	texts[key] = string(data)
	if len(texts) > maxLocalizationTexts {
		return badRequest("Too many texts for one locale")
	}
	r.LocalizationTexts[l] = texts
	if err := a.saveTexts(c, r); err != nil {
		return err
	}
	return c.noContent()
}

// DELETE /localization/{locale}/{key}: one text.
func (a *API) deleteLocalizationText(c *call) error {
	l, err := c.locale()
	if err != nil {
		return err
	}
	key := c.r.PathValue("key")
	r, err := c.realmTexts()
	if err != nil {
		return err
	}
	if _, ok := r.LocalizationTexts[l][key]; !ok {
		return notFound("Localization text not found")
	}
	texts := maps.Clone(r.LocalizationTexts[l])
	delete(texts, key)
	if len(texts) == 0 {
		delete(r.LocalizationTexts, l)
	} else {
		r.LocalizationTexts[l] = texts
	}
	if err := a.saveTexts(c, r); err != nil {
		return err
	}
	return c.noContent()
}

func checkText(key, text string) error {
	switch {
	case key == "" || len(key) > 255 || !utf8.ValidString(key):
		return badRequest("Invalid localization key")
	case len(text) > maxLocalizationText || !utf8.ValidString(text):
		return badRequest("Invalid localization text for key " + key)
	}
	return nil
}
