-- Flowdeck's first addition: users.updated_at moves on UPDATE too, with the seed's
-- trigger function (created in 004).
DROP TRIGGER IF EXISTS update_users_updated_at ON users;
CREATE TRIGGER update_users_updated_at BEFORE UPDATE ON users
  FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
