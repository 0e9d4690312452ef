// Command template renders the release's templates from SHA256SUMS, with Go's text/template:
// .krew.yaml (the krew plugin manifest) and plugin-manifest/kubectl-stateful.rb (the Homebrew
// formula).
//
// .krew.yaml is also krew-release-bot's template, which the bot renders with text/template on
// each release and submits to krew-index. Rendering it with the same engine and the same two
// functions the bot defines (pkg/source/template.go in rajatjindal/krew-release-bot) makes the
// manifest tested here the one the bot submits. The one difference: the bot downloads each URI
// to hash it, and this takes the sum from SHA256SUMS by the URI's file name (the release assets
// are the files SHA256SUMS was made from).
//
//	go run . -tag v0.1.0 -sums dist/SHA256SUMS -repository https://github.com/o/r TEMPLATE
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path"
	"strings"
	"text/template"
)

func main() {
	tag := flag.String("tag", "", "the release tag, v<version>")
	sumsFile := flag.String("sums", "", "the SHA256SUMS file of the release assets")
	repository := flag.String("repository", "", "the GitHub repository URL the release is published in")
	flag.Parse()
	if *tag == "" || *sumsFile == "" || *repository == "" || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: template -tag TAG -sums SHA256SUMS -repository URL TEMPLATE")
		os.Exit(2)
	}
	sums, err := readSums(*sumsFile)
	if err == nil {
		var out []byte
		out, err = render(flag.Arg(0), *tag, strings.TrimSuffix(*repository, "/"), sums)
		if err == nil {
			_, err = os.Stdout.Write(out)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "template: %v\n", err)
		os.Exit(1)
	}
}

// readSums reads `sha256sum` output: "<hex>  <name>" (or "<hex> *<name>") per line.
func readSums(file string) (map[string]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sums := map[string]string{}
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		sum, name, ok := strings.Cut(scanner.Text(), " ")
		name = strings.TrimPrefix(strings.TrimPrefix(name, " "), "*")
		if !ok || len(sum) != 64 || name == "" {
			return nil, fmt.Errorf("%s: not a sha256sum line: %q", file, scanner.Text())
		}
		sums[name] = sum
	}
	return sums, scanner.Err()
}

// The bot's template data is its release request; TagName is the one field a template can
// use before the bot has rendered it. Version is the tag without its "v", for Homebrew.
type data struct {
	TagName string
	Version string
}

func render(file, tag, repository string, sums map[string]string) ([]byte, error) {
	sumOf := func(name string) (string, error) {
		if sum, ok := sums[name]; ok {
			return sum, nil
		}
		return "", fmt.Errorf("%s is not in SHA256SUMS", name)
	}
	archive := func(platform string) string {
		if strings.HasPrefix(platform, "windows-") {
			return "kubectl-stateful-" + tag + "-" + platform + ".zip"
		}
		return "kubectl-stateful-" + tag + "-" + platform + ".tar.gz"
	}
	funcs := template.FuncMap{
		// As the bot's: the URL is itself a template of the tag; the result is the uri line
		// and, on the next line at four spaces (where a platform's fields are), its sha256.
		"addURIAndSha": func(url, tag string) (string, error) {
			t, err := template.New("url").Parse(url)
			if err != nil {
				return "", err
			}
			var buf bytes.Buffer
			if err := t.Execute(&buf, data{TagName: tag}); err != nil {
				return "", err
			}
			sum, err := sumOf(path.Base(buf.String()))
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("uri: %s\n    sha256: %s", buf.String(), sum), nil
		},
		// As the bot's: re-indents a multi-line value (addURIAndSha's) to the given depth.
		"indent": func(spaces int, v string) string {
			v = strings.ReplaceAll(v, "    sha256:", "sha256:")
			pad := strings.Repeat(" ", spaces)
			return strings.TrimSpace(pad + strings.ReplaceAll(v, "\n", "\n"+pad))
		},
		// Ours, for the Homebrew formula: a platform's archive URL and sha256.
		"url": func(platform string) string {
			return repository + "/releases/download/" + tag + "/" + archive(platform)
		},
		"sha256": func(platform string) (string, error) { return sumOf(archive(platform)) },
	}
	t, err := template.New(path.Base(file)).Funcs(funcs).Option("missingkey=error").ParseFiles(file)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := t.Execute(&out, data{TagName: tag, Version: strings.TrimPrefix(tag, "v")}); err != nil {
		return nil, err
	}
	if bytes.Contains(out.Bytes(), []byte("{{")) {
		return nil, errors.New("the rendered file still has {{ in it")
	}
	return out.Bytes(), nil
}
