@echo off
REM kubectl (1.26+) runs this for `kubectl stateful <TAB>` on Windows.
kubectl-stateful.exe __complete %*
