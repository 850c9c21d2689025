-- The browser or program a sign-in came from (its User-Agent, at most 256 characters), so that a user's list of
-- sign-ins on the account page says "Chrome on Windows" beside the address: an unknown device stands out.
ALTER TABLE sessions ADD COLUMN user_agent text;
