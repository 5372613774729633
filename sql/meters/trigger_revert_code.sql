DROP TRIGGER IF EXISTS {trigger_name} ON {on};
DROP FUNCTION IF EXISTS {trigger_function}();
