function adjudicate(c) return {1.5, 2 / 3, 2 ^ 8} end
