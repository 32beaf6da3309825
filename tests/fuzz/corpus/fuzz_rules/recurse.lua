local function f(n) return n == 0 and 0 or 1 + f(n - 1) end
function adjudicate(c) local t = {} t.self = t return {f(100), f(1000000)} end
