{{- /* The Homebrew formula TEMPLATE: plugin-manifest/release render fills it from SHA256SUMS
(see docs/release.md), and the release workflow commits the result to the tap
kubectl-stateful/homebrew-tap as Formula/kubectl-stateful.rb. */ -}}
# Rendered by plugin-manifest/release from the release's SHA256SUMS; do not edit by hand.
class KubectlStateful < Formula
  desc "StatefulSet status, canary rollouts and safe PVC cleanup for kubectl"
  homepage "https://github.com/kubectl-stateful/kubectl-stateful"
  version "{{ .Version }}"
  license "Apache-2.0"

  on_macos do
    on_arm do
      url "{{ url "darwin-arm64" }}"
      sha256 "{{ sha256 "darwin-arm64" }}"
    end
    on_intel do
      url "{{ url "darwin-amd64" }}"
      sha256 "{{ sha256 "darwin-amd64" }}"
    end
  end

  on_linux do
    on_arm do
      url "{{ url "linux-arm64" }}"
      sha256 "{{ sha256 "linux-arm64" }}"
    end
    on_intel do
      url "{{ url "linux-amd64" }}"
      sha256 "{{ sha256 "linux-amd64" }}"
    end
  end

  def install
    bin.install "kubectl-stateful"
    # kubectl (1.26+) completes `kubectl stateful <TAB>` through this script on PATH.
    bin.install "kubectl_complete-stateful"
    generate_completions_from_executable(bin/"kubectl-stateful", "completion")
  end

  test do
    assert_equal "Plugin Version: v#{version}", shell_output("#{bin}/kubectl-stateful version --client").strip
  end
end
