package main
import (
_ "github.com/expr-lang/expr"
_ "gopkg.in/yaml.v3"
_ "github.com/fsnotify/fsnotify"
_ "github.com/julienschmidt/httprouter"
_ "modernc.org/sqlite"
_ "github.com/prometheus/client_golang/prometheus"
_ "github.com/wneessen/go-mail"
_ "golang.org/x/time/rate"
_ "github.com/rogpeppe/go-internal/testscript"
_ "github.com/emersion/go-smtp"
_ "github.com/emersion/go-sasl"
)
func main(){}
