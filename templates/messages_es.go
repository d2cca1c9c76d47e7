package templates

var messagesES = map[string]string{}
