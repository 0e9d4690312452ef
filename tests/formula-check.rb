# Evaluates the rendered Homebrew formula (tests/release) against a stand-in for the part of
# Homebrew's formula DSL it uses, since Homebrew itself is not on this machine:
#
#   ruby tests/formula-check.rb FORMULA EXTRACTED_LINUX_AMD64_ARCHIVE
#
# The class body is evaluated once per platform, as Homebrew simulates each system (on_macos,
# on_linux, on_arm, on_intel), and prints "<os>-<arch> <url> <sha256>" for each: exactly one
# url and one sha256 each. Then, as on linux/amd64, its install block runs (every file it
# installs must be in the archive; the completion scripts it generates must come out of the
# binary) and its test block runs against the archive's binary. Fields go to stdout as
# "field <name> <value>"; a failure raises (exit 1).
require "open3"
require "pathname"

FORMULA, ARCHIVE = ARGV
abort "usage: ruby tests/formula-check.rb FORMULA EXTRACTED_ARCHIVE_DIR" unless FORMULA && ARCHIVE

# What Homebrew's Formula class offers the formula, as far as it uses it.
class Formula
  class << self
    attr_accessor :system_os, :system_arch, :urls, :sums, :fields, :test_block

    def inherited(subclass)
      super
      Formula.fields = {}
      Formula.urls = []
      Formula.sums = []
    end

    %i[desc homepage version license].each do |field|
      define_method(field) { |value| Formula.fields[field] = value }
    end

    def url(value) = Formula.urls << value
    def sha256(value) = Formula.sums << value
    def on_macos = (yield if Formula.system_os == "darwin")
    def on_linux = (yield if Formula.system_os == "linux")
    def on_arm = (yield if Formula.system_arch == "arm64")
    def on_intel = (yield if Formula.system_arch == "amd64")
    def test(&block) = Formula.test_block = block
  end

  # Homebrew's bin: here the extracted archive, where the files to install are.
  class Bin < Pathname
    def install(*names)
      names.each do |name|
        raise "install: #{name} is not in the archive" unless (self / name).file?
      end
    end
  end

  def bin = Bin.new(ARCHIVE)
  def version = Formula.fields.fetch(:version)

  # Homebrew runs `<executable> <args> <shell>` for bash, zsh and fish.
  def generate_completions_from_executable(executable, *args)
    %w[bash zsh fish].each do |shell|
      out, status = Open3.capture2(executable.to_s, *args, shell)
      raise "#{executable} #{args.join(' ')} #{shell} failed" unless status.success? && !out.empty?
    end
  end

  def shell_output(command)
    out, status = Open3.capture2(command)
    raise "#{command} exited #{status.exitstatus}" unless status.success?
    out
  end

  def assert_equal(expected, actual)
    raise "expected #{expected.inspect}, got #{actual.inspect}" unless expected == actual
  end
end

formula = nil
[%w[darwin arm64], %w[darwin amd64], %w[linux arm64], %w[linux amd64]].each do |os, arch|
  Formula.system_os = os
  Formula.system_arch = arch
  Object.send(:remove_const, :KubectlStateful) if Object.const_defined?(:KubectlStateful)
  load FORMULA
  raise "#{os}-#{arch}: #{Formula.urls.size} urls, #{Formula.sums.size} sha256s" unless Formula.urls.size == 1 && Formula.sums.size == 1
  puts "#{os}-#{arch} #{Formula.urls.first} #{Formula.sums.first}"
  formula = KubectlStateful.new
end
Formula.fields.each { |name, value| puts "field #{name} #{value}" }
formula.install
formula.instance_eval(&Formula.test_block)
puts "install and test ran"
