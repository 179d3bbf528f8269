module omni-deploy/sim/engine

go 1.22
